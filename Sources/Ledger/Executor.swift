import Crypto

/// Where and when a block's transactions execute.
public struct BlockContext: Sendable {
    public var height: UInt64
    /// The block's time, unix milliseconds.
    public var timeMs: UInt64
    /// Receives the fees.
    public var proposer: Address
    public var parameters: ChainParameters
    /// The validator set that certified a past height, for checking evidence.
    public var validatorSet: @Sendable (_ height: UInt64) -> ValidatorSet?

    public init(height: UInt64, timeMs: UInt64, proposer: Address, parameters: ChainParameters,
                validatorSet: @escaping @Sendable (_ height: UInt64) -> ValidatorSet?) {
        self.height = height
        self.timeMs = timeMs
        self.proposer = proposer
        self.parameters = parameters
        self.validatorSet = validatorSet
    }

    /// The context of the block after `store`'s last one, at `timeMs`.
    public init(following store: ChainStore, timeMs: UInt64, proposer: Address) {
        self.init(height: store.status!.height + 1, timeMs: timeMs, proposer: proposer, parameters: store.parameters,
                  validatorSet: { try? store.validatorSet(forHeight: $0) })
    }

    /// The block's time in whole unix seconds (vesting schedules count seconds).
    public var timeSeconds: UInt64 { timeMs / 1000 }
}

/// The transaction rules. Deterministic: the same transactions on the same state in the same
/// context give the same writes on every node.
///
/// Every rule is checked before anything is written, so a rejected transaction leaves the
/// state untouched. Fees move from the sender to the block proposer; only slashing destroys
/// tokens (and lowers `Supply.total` by as much), so balances plus stakes plus royalty escrows
/// always add up to `Supply.total` (with unbonding stake counted as stake).
public struct Executor: Sendable {
    public let chainID: String

    public init(chainID: String) { self.chainID = chainID }

    /// Checks the signature: the sender signed this transaction for this chain.
    public func checkSignature(_ transaction: SignedTransaction) throws(TransactionRejection) {
        guard transaction.hasValidSignature(chainID: chainID) else { throw .invalidSignature }
    }

    /// Applies one transaction whose signature has already been checked.
    public func apply(_ signed: SignedTransaction, to state: inout StateOverlay, context: BlockContext) throws(TransactionRejection) {
        let transaction = signed.transaction
        let senderAddress = transaction.sender
        var sender = state.account(senderAddress)
        // Unstaked tokens whose unbonding ended return to the balance with the sender's next transaction.
        let storedUnbonding: Unbonding? = state.record(.unbonding(senderAddress))
        var unbonding = storedUnbonding
        sender.balance += release(&unbonding, at: context.height)  // cannot overflow: part of the supply
        guard transaction.nonce == sender.nonce else {
            throw .wrongNonce(expected: sender.nonce, got: transaction.nonce)
        }
        guard transaction.fee >= context.parameters.minFee else {
            throw .feeTooLow(minimum: context.parameters.minFee, got: transaction.fee)
        }

        switch transaction.body {
        case let .transfer(to, amount):
            guard amount > 0 else { throw .zeroAmount }
            let debit = try sum(transaction.fee, amount)
            try requireSpendable(debit, of: sender, at: senderAddress, in: state, time: context.timeSeconds)
            sender.debit(debit)
            save(sender, unbonding, changed: unbonding != storedUnbonding, of: senderAddress, in: &state)
            credit(amount, to: to, in: &state)

        case let .registerDatanet(name, description):
            try requireValidName(name, what: "datanet name")
            guard description.utf8.count <= TransactionBody.descriptionMaxBytes else {
                throw .invalidName("datanet description is longer than \(TransactionBody.descriptionMaxBytes) bytes")
            }
            try requireSpendable(transaction.fee, of: sender, at: senderAddress, in: state, time: context.timeSeconds)
            let id = DatanetID.derive(creator: senderAddress, nonce: transaction.nonce)
            sender.debit(transaction.fee)
            save(sender, unbonding, changed: unbonding != storedUnbonding, of: senderAddress, in: &state)
            state.setRecord(.datanet(id), Datanet(owner: senderAddress, name: name, description: description, createdHeight: context.height))

        case let .contribute(datanetID, contentHash, sizeBytes):
            guard sizeBytes > 0 else { throw .zeroAmount }
            guard sizeBytes <= TransactionBody.contributionMaxBytes else {
                throw .contributionTooLarge(max: TransactionBody.contributionMaxBytes)
            }
            guard var datanet: Datanet = state.record(.datanet(datanetID)) else { throw .unknownDatanet(datanetID) }
            let key = StateKey.contribution(datanet: datanetID, contentHash: contentHash)
            guard state.value(for: key) == nil else { throw .duplicateContribution(contentHash) }
            try requireSpendable(transaction.fee, of: sender, at: senderAddress, in: state, time: context.timeSeconds)
            sender.debit(transaction.fee)
            save(sender, unbonding, changed: unbonding != storedUnbonding, of: senderAddress, in: &state)
            // Statistics only: they saturate rather than block later contributions.
            datanet.contributionCount = datanet.contributionCount.saturatingAdding(1)
            datanet.contributedBytes = datanet.contributedBytes.saturatingAdding(sizeBytes)
            state.setRecord(.datanet(datanetID), datanet)
            state.setRecord(key, Contribution(contributor: senderAddress, sizeBytes: sizeBytes, height: context.height))

        case let .registerAdapter(adapterHash, baseModelHash, datanets, name, pricePerToken):
            try requireValidName(name, what: "adapter name")
            guard state.value(for: .adapter(adapterHash)) == nil else { throw .adapterAlreadyRegistered(adapterHash) }
            for index in datanets.indices.dropFirst() where !(datanets[index - 1] < datanets[index]) {
                throw .invalidLineage("datanet lineage must be in ascending order without repeats")
            }
            for datanet in datanets where state.value(for: .datanet(datanet)) == nil {
                throw .unknownDatanet(datanet)
            }
            try requireSpendable(transaction.fee, of: sender, at: senderAddress, in: state, time: context.timeSeconds)
            sender.debit(transaction.fee)
            save(sender, unbonding, changed: unbonding != storedUnbonding, of: senderAddress, in: &state)
            state.setRecord(.adapter(adapterHash), AdapterRecord(
                owner: senderAddress, baseModelHash: baseModelHash, datanets: datanets, name: name,
                pricePerToken: pricePerToken, registeredHeight: context.height))

        case let .stake(amount):
            guard amount > 0 else { throw .zeroAmount }
            let debit = try sum(transaction.fee, amount)
            try requireSpendable(debit, of: sender, at: senderAddress, in: state, time: context.timeSeconds)
            let record = state.record(.validator(senderAddress), as: ValidatorRecord.self) ?? ValidatorRecord(stake: 0)
            let newStake = try sum(record.stake, amount)
            guard newStake >= context.parameters.minStake else {
                throw .stakeBelowMinimum(minimum: context.parameters.minStake, resulting: newStake)
            }
            sender.debit(debit)
            save(sender, unbonding, changed: unbonding != storedUnbonding, of: senderAddress, in: &state)
            state.setRecord(.validator(senderAddress), ValidatorRecord(stake: newStake, jailed: record.jailed))

        case let .unstake(amount):
            guard amount > 0 else { throw .zeroAmount }
            let record = state.record(.validator(senderAddress), as: ValidatorRecord.self) ?? ValidatorRecord(stake: 0)
            guard amount <= record.stake else { throw .insufficientStake(staked: record.stake, requested: amount) }
            let remaining = record.stake - amount
            guard remaining == 0 || remaining >= context.parameters.minStake else {
                throw .stakeBelowMinimum(minimum: context.parameters.minStake, resulting: remaining)
            }
            guard ValidatorRecord(stake: remaining, jailed: record.jailed).power > 0 || record.power == 0
                || Self.anotherValidatorHasPower(than: senderAddress, in: state) else { throw .lastValidator }
            var entries = unbonding?.entries ?? []
            guard entries.count < Unbonding.entriesMax else { throw .tooManyUnbondings(max: Unbonding.entriesMax) }
            try requireSpendable(transaction.fee, of: sender, at: senderAddress, in: state, time: context.timeSeconds)
            sender.debit(transaction.fee)
            // The stake votes until the set changes (`ValidatorSet.changeDelayHeights` on), and stays
            // slashable for evidence of any height it voted at until that evidence is too old.
            entries.append(Unbonding.Entry(
                amount: amount, unstakedHeight: context.height,
                releaseHeight: context.height.saturatingAdding(context.parameters.evidenceMaxAgeHeights).saturatingAdding(ValidatorSet.changeDelayHeights)))
            unbonding = Unbonding(entries: entries)
            save(sender, unbonding, changed: true, of: senderAddress, in: &state)
            // A jailed validator keeps its record, stake 0, so staking again does not unjail it.
            state.setRecord(.validator(senderAddress), remaining == 0 && !record.jailed ? nil : ValidatorRecord(stake: remaining, jailed: record.jailed))

        case let .evidence(evidence):
            try checkEvidence(evidence, in: state, context: context)
            try requireSpendable(transaction.fee, of: sender, at: senderAddress, in: state, time: context.timeSeconds)
            sender.debit(transaction.fee)
            save(sender, unbonding, changed: unbonding != storedUnbonding, of: senderAddress, in: &state)
            punish(evidence, in: &state, context: context)

        case let .settlePayment(settlement):
            let adapter = try checkSettlement(settlement, payee: senderAddress, in: state, context: context)
            try requireSpendable(transaction.fee, of: sender, at: senderAddress, in: state, time: context.timeSeconds)
            sender.debit(transaction.fee)
            save(sender, unbonding, changed: unbonding != storedUnbonding, of: senderAddress, in: &state)
            let a = settlement.authorization
            var payer = state.account(a.from)
            payer.balance -= settlement.charged  // checked spendable; the payer's own nonce is untouched
            state.setRecord(.account(a.from), payer)
            state.setRecord(.paymentNonce(payer: a.from, nonce: a.nonce), PaymentNonceRecord(validBefore: a.validBefore, settledHeight: context.height))
            state.setRecord(.paymentExpiry(validBefore: a.validBefore, payer: a.from, nonce: a.nonce), PaymentNonceRecord(validBefore: a.validBefore, settledHeight: context.height))
            shareOut(settlement, adapter: adapter, id: signed.hash, payee: senderAddress, in: &state, context: context)

        case let .attribution(release):
            let (escrow, payouts) = try checkAttribution(release, provider: senderAddress, in: state, context: context)
            try requireSpendable(transaction.fee, of: sender, at: senderAddress, in: state, time: context.timeSeconds)
            sender.debit(transaction.fee)
            save(sender, unbonding, changed: unbonding != storedUnbonding, of: senderAddress, in: &state)
            for (contributor, amount) in payouts { credit(amount, to: contributor, in: &state) }
            state.setRecord(.royaltyEscrow(settlement: release.settlement), nil as RoyaltyEscrow?)
            state.set(.royaltyExpiry(height: escrow.expiryHeight, settlement: release.settlement), nil)
        }

        credit(transaction.fee, to: context.proposer, in: &state)
    }

    /// What every block does before its transactions: forgets settled payment nonces whose
    /// window has closed, oldest first, at most `PaymentSettlement.prunedNoncesPerBlockMax`
    /// (replay stays impossible: at or after `validBefore` an authorization fails rule 3); and
    /// pays royalty escrows that reached their expiry height unreleased to the validators by
    /// power, at most `RoyaltyEscrow.expiriesPerBlockMax`.
    public func beginBlock(_ state: inout StateOverlay, context: BlockContext) {
        for key in state.keys(of: .paymentExpiry, limit: PaymentSettlement.prunedNoncesPerBlockMax) {
            guard case let .paymentExpiry(validBefore, payer, nonce) = key else { preconditionFailure("a \(key.kind) key among payment expiries") }
            guard validBefore <= context.timeSeconds else { break }
            state.set(key, nil)
            state.set(.paymentNonce(payer: payer, nonce: nonce), nil)
        }
        var validators: ValidatorSet?  // read once, and only when an escrow expires
        for key in state.keys(of: .royaltyExpiry, limit: RoyaltyEscrow.expiriesPerBlockMax) {
            guard case let .royaltyExpiry(height, settlement) = key else { preconditionFailure("a \(key.kind) key among royalty expiries") }
            guard height <= context.height else { break }
            guard let escrow: RoyaltyEscrow = state.record(.royaltyEscrow(settlement: settlement)) else { preconditionFailure("royalty expiry without its escrow") }
            validators = validators ?? Self.validators(context)
            payValidators(escrow.amount, validators: validators!, in: &state, context: context)
            state.set(key, nil)
            state.setRecord(.royaltyEscrow(settlement: settlement), nil as RoyaltyEscrow?)
        }
    }

    /// Shares a settled charge out by the genesis `RoyaltyRules`: the provider, the adapter's
    /// owner, the validators by power, and an escrow for the contributors of the adapter's
    /// datanets that expires `escrowHeights` blocks later.
    private func shareOut(_ settlement: PaymentSettlement, adapter: AdapterRecord?, id: Digest, payee: Address, in state: inout StateOverlay, context: BlockContext) {
        let rules = context.parameters.royalties
        let split = rules.split(settlement.charged, hasAdapter: adapter != nil, hasDatanets: adapter?.datanets.isEmpty == false)
        credit(split.provider, to: payee, in: &state)
        if let adapter { credit(split.adapterOwner, to: adapter.owner, in: &state) }
        payValidators(split.protocol, validators: Self.validators(context), in: &state, context: context)
        guard split.contributors > 0, let adapterID = settlement.adapter else { return }
        let expiry = context.height.saturatingAdding(rules.escrowHeights)
        state.setRecord(.royaltyEscrow(settlement: id), RoyaltyEscrow(provider: payee, adapter: adapterID, amount: split.contributors, expiryHeight: expiry))
        state.set(.royaltyExpiry(height: expiry, settlement: id), [])  // the key is the record; the value is empty
    }

    /// The validators certifying this block (none known: the proposer takes every share).
    private static func validators(_ context: BlockContext) -> ValidatorSet { context.validatorSet(context.height) ?? ValidatorSet([]) }

    /// Pays `amount` to `validators` by power, the remainder to the proposer (`ValidatorSet.payouts`).
    private func payValidators(_ amount: UInt64, validators: ValidatorSet, in state: inout StateOverlay, context: BlockContext) {
        for (address, share) in validators.payouts(of: amount, remainderTo: context.proposer) { credit(share, to: address, in: &state) }
    }

    /// An attribution releases an unexpired escrow of the sender's own settlement; its shares
    /// are well formed and each names a document contributed to one of the adapter's datanets
    /// (searched in lineage order). Returns the escrow and what each contributor is paid.
    /// An escrow expires at its expiry height even when `beginBlock` has not paid it out yet
    /// (more than `RoyaltyEscrow.expiriesPerBlockMax` expired at once).
    private func checkAttribution(_ release: AttributionRelease, provider: Address, in state: StateOverlay, context: BlockContext) throws(TransactionRejection) -> (RoyaltyEscrow, [(Address, UInt64)]) {
        guard let escrow: RoyaltyEscrow = state.record(.royaltyEscrow(settlement: release.settlement)), escrow.expiryHeight > context.height else {
            throw .unknownEscrow(release.settlement)
        }
        guard escrow.provider == provider else { throw .notEscrowProvider(release.settlement) }
        if let defect = release.defect { throw .invalidAttribution(defect) }
        guard let adapter: AdapterRecord = state.record(.adapter(escrow.adapter)) else { preconditionFailure("an escrow for an unregistered adapter") }
        var contributors: [Address] = []
        for share in release.shares {
            let found = adapter.datanets.lazy.compactMap { state.record(.contribution(datanet: $0, contentHash: share.document), as: Contribution.self) }.first
            guard let contribution = found else { throw .invalidAttribution("document \(share.document.hex) is not in the adapter's datanets") }
            contributors.append(contribution.contributor)
        }
        return (escrow, Array(zip(contributors, release.payouts(of: escrow.amount))))
    }

    /// Rules 2–6 of x402 verification for a settlement by `payee`, at the block's time: the
    /// authorization names this chain, OPEN, a known scheme and the payee; the charge fits the
    /// scheme; the window is open; the payer signed; the nonce is unused; the payer can pay.
    /// Returns the registered adapter the settlement names, if it names one.
    private func checkSettlement(_ settlement: PaymentSettlement, payee: Address, in state: StateOverlay, context: BlockContext) throws(TransactionRejection) -> AdapterRecord? {
        let a = settlement.authorization, network = PaymentAuthorization.network(chainID: chainID)
        guard let scheme = PaymentScheme(rawValue: a.scheme), a.network == network, a.asset == PaymentAuthorization.asset, a.to == payee.hex else {
            throw .invalidPayment(.authorizationMismatch, "the authorization is not an exact or upto payment of OPEN to the sender on \(network)")
        }
        guard a.from != payee else { throw .invalidPayment(.authorizationMismatch, "the payer is the payee") }
        switch scheme {
        case .exact:
            guard settlement.charged > 0 else { throw .zeroAmount }
            guard settlement.charged == a.amount else { throw .invalidPayment(.authorizationMismatch, "an exact payment charges \(a.amount), not \(settlement.charged)") }
        case .upto:
            // Zero is a charge too: an answer that cost nothing still consumes its authorization,
            // and its receipt names a transaction.
            guard settlement.charged <= a.amount else { throw .invalidPayment(.authorizationMismatch, "charges \(settlement.charged), above the authorized \(a.amount)") }
        }
        if let reason = a.windowViolation(now: context.timeSeconds, windowSecondsMax: PaymentSettlement.windowSecondsMax) {
            throw .invalidPayment(reason, "block time \(context.timeSeconds) s is outside the window \(a.validAfter)–\(a.validBefore) (at most \(PaymentSettlement.windowSecondsMax) s, closing \(PaymentAuthorization.expiryMarginSeconds) s early)")
        }
        guard a.isSigned(by: settlement.signature) else { throw .invalidPayment(.signature, "the signature is not the payer's") }
        guard state.value(for: .paymentNonce(payer: a.from, nonce: a.nonce)) == nil else {
            throw .invalidPayment(.nonceUsed, "nonce \(a.nonce.hex) of \(a.from) was already settled")
        }
        do { try requireSpendable(settlement.charged, of: state.account(a.from), at: a.from, in: state, time: context.timeSeconds) } catch {
            throw .invalidPayment(.insufficientFunds, "the payer cannot spend \(settlement.charged): \(error)")
        }
        guard let id = settlement.adapter else { return nil }
        guard let adapter: AdapterRecord = state.record(.adapter(id)) else { throw .unknownAdapter(id) }
        return adapter
    }

    /// Removes the entries of `unbonding` released by `height` and returns their total.
    private func release(_ unbonding: inout Unbonding?, at height: UInt64) -> UInt64 {
        guard let current = unbonding, current.entries.contains(where: { $0.releaseHeight <= height }) else { return 0 }
        let remaining = current.entries.filter { $0.releaseHeight > height }
        unbonding = remaining.isEmpty ? nil : Unbonding(entries: remaining)
        return current.released(atHeight: height)
    }

    /// Writes the sender's account, and its unbonding record when that changed.
    private func save(_ account: Account, _ unbonding: Unbonding?, changed: Bool, of address: Address, in state: inout StateOverlay) {
        state.setRecord(.account(address), account)
        if changed { state.setRecord(.unbonding(address), unbonding) }
    }

    /// Evidence is accepted once per validator and height, from the previous height back
    /// `evidenceMaxAgeHeights`, against a validator that held power at that height.
    private func checkEvidence(_ evidence: DuplicateVoteEvidence, in state: StateOverlay, context: BlockContext) throws(TransactionRejection) {
        if let defect = evidence.defect(chainID: chainID) { throw .invalidEvidence(defect) }
        let height = evidence.height
        guard height < context.height else { throw .invalidEvidence("votes at height \(height) are not before this block") }
        let maxAge = context.parameters.evidenceMaxAgeHeights
        let oldest = context.height > maxAge ? context.height - maxAge : 1
        guard height >= oldest else { throw .staleEvidence(height: height, oldestAccepted: oldest) }
        guard let validators = context.validatorSet(height), validators.power(of: evidence.validator) > 0 else {
            throw .invalidEvidence("\(evidence.validator) was not a validator at height \(height)")
        }
        guard state.value(for: .slash(validator: evidence.validator, height: height)) == nil else { throw .duplicateEvidence }
    }

    /// Whether a validator other than `address` has power in `state` (its records, the set
    /// that takes effect `ValidatorSet.changeDelayHeights` on).
    static func anotherValidatorHasPower(than address: Address, in state: StateOverlay) -> Bool {
        var limit = 16
        while true {
            let keys = state.keys(of: .validator, limit: limit)
            for key in keys {
                guard case let .validator(other) = key, other != address, let record: ValidatorRecord = state.record(key) else { continue }
                if record.power > 0 { return true }
            }
            if keys.count < limit { return false }
            limit *= 4
        }
    }

    /// Burns `slashFractionBasisPoints` of the validator's stake (the supply shrinks by as
    /// much) and jails it; its power drops to zero in the set two heights later — unless it is
    /// the last validator with power, which keeps voting (slashed) so the chain goes on.
    /// Stake unstaked at a height whose set still held it (it votes until
    /// `ValidatorSet.changeDelayHeights` after the unstake) was at stake then, and is slashed too.
    private func punish(_ evidence: DuplicateVoteEvidence, in state: inout StateOverlay, context: BlockContext) {
        let fraction = context.parameters.slashFractionBasisPoints
        func slashed(_ amount: UInt64) -> UInt64 { amount.portion(fraction, of: 10_000) }
        var amount: UInt64 = 0
        // A validator that unstaked everything since has no record: it gets one, jailed, so
        // staking again does not bring its power back.
        var record = state.record(.validator(evidence.validator), as: ValidatorRecord.self) ?? ValidatorRecord(stake: 0)
        let cut = slashed(record.stake)
        record.stake -= cut
        record.jailed = record.jailed || Self.anotherValidatorHasPower(than: evidence.validator, in: state)
        state.setRecord(.validator(evidence.validator), record.stake == 0 && !record.jailed ? nil : record)
        amount += cut
        if var unbonding: Unbonding = state.record(.unbonding(evidence.validator)) {
            for index in unbonding.entries.indices where unbonding.entries[index].unstakedHeight + ValidatorSet.changeDelayHeights > evidence.height {
                let cut = slashed(unbonding.entries[index].amount)
                unbonding.entries[index].amount -= cut
                amount += cut
            }
            state.setRecord(.unbonding(evidence.validator), unbonding)
        }
        guard var supply: Supply = state.record(.supply) else { fatalError("state has no supply record") }
        precondition(supply.total >= amount, "supply invariant broken: slash beyond supply")
        supply.total -= amount
        state.setRecord(.supply, supply)
        state.setRecord(.slash(validator: evidence.validator, height: evidence.height),
                        SlashRecord(amount: amount, reportedHeight: context.height))
    }

    private func sum(_ a: UInt64, _ b: UInt64) throws(TransactionRejection) -> UInt64 {
        let (total, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw .amountOverflow }
        return total
    }

    private func requireValidName(_ name: String, what: String) throws(TransactionRejection) {
        guard !name.isEmpty, name.utf8.count <= TransactionBody.nameMaxBytes else {
            throw .invalidName("\(what) must be 1 to \(TransactionBody.nameMaxBytes) bytes")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidName("\(what) must not contain control characters")
        }
    }

    /// Fails unless `account` can spend `amount` now: its balance minus what vesting still locks.
    private func requireSpendable(_ amount: UInt64, of account: Account, at address: Address, in state: StateOverlay, time: UInt64) throws(TransactionRejection) {
        guard account.balance >= amount else { throw .insufficientFunds(needed: amount, balance: account.balance) }
        guard let vesting: VestingSchedule = state.record(.vesting(address)) else { return }
        let locked = vesting.lockedAmount(at: time)
        let spendable = account.balance > locked ? account.balance - locked : 0
        guard spendable >= amount else { throw .lockedFunds(needed: amount, spendable: spendable, locked: locked) }
    }

    /// Adds `amount` to an account. Balances plus stakes equal the supply, a `UInt64`, so a
    /// credit of tokens taken from another account cannot overflow.
    private func credit(_ amount: UInt64, to address: Address, in state: inout StateOverlay) {
        guard amount > 0 else { return }
        var account = state.account(address)
        let (balance, overflow) = account.balance.addingReportingOverflow(amount)
        precondition(!overflow, "supply invariant broken: balance overflow")
        account.balance = balance
        state.setRecord(.account(address), account)
    }
}

extension UInt64 {
    func saturatingAdding(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}

extension Account {
    /// Removes `amount` (already checked spendable) and advances the nonce.
    mutating func debit(_ amount: UInt64) {
        precondition(balance >= amount, "debit beyond balance")
        balance -= amount
        nonce += 1
    }
}
