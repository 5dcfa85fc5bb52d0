import Crypto
import Foundation
import Ledger
import Payments

/// JSON shapes of ledger values in the HTTP API and `--json` CLI output. Amounts are decimal
/// strings of atomic units (1 OPEN = 10^9), hashes and addresses lowercase hex.
enum JSONView {
    static func transaction(_ signed: SignedTransaction) -> [String: Any] {
        let transaction = signed.transaction
        var object: [String: Any] = [
            "hash": signed.hash.hex,
            "type": transaction.body.kind,
            "sender": transaction.sender.hex,
            "nonce": transaction.nonce,
            "fee": String(transaction.fee),
            "signature": signed.signature.hex,
        ]
        switch transaction.body {
        case let .transfer(to, amount):
            object["to"] = to.hex
            object["amount"] = String(amount)
        case let .registerDatanet(name, description):
            object["name"] = name
            object["description"] = description
            object["datanet"] = DatanetID.derive(creator: transaction.sender, nonce: transaction.nonce).hex
        case let .contribute(datanet, contentHash, sizeBytes):
            object["datanet"] = datanet.hex
            object["content_hash"] = contentHash.hex
            object["size_bytes"] = sizeBytes
        case let .registerAdapter(adapterHash, baseModelHash, datanets, name, pricePerToken):
            object["adapter_hash"] = adapterHash.hex
            object["base_model_hash"] = baseModelHash.hex
            object["datanets"] = datanets.map(\.hex)
            object["name"] = name
            object["price_per_token"] = String(pricePerToken)
        case let .stake(amount), let .unstake(amount):
            object["amount"] = String(amount)
        case let .evidence(evidence):
            object["validator"] = evidence.validator.hex
            object["votes"] = [evidence.first, evidence.second].map(vote)
        case let .settlePayment(settlement):
            object["authorization"] = settlement.authorization.json
            object["payment_signature"] = Data(settlement.signature.bytes).base64EncodedString()
            object["charged"] = String(settlement.charged)
            object["adapter"] = settlement.adapter?.hex ?? NSNull()
        case let .attribution(release):
            object["settlement"] = release.settlement.hex
            object["proof"] = release.proof.hex
            object["shares"] = release.shares.map { ["document": $0.document.hex, "weight": String($0.weight)] }
        }
        return object
    }

    /// `GET /v1/parameters`: `genesis.json`'s parameters object.
    static func parameters(_ parameters: ChainParameters) -> [String: Any] {
        let royalties = parameters.royalties
        return [
            "min_fee": String(parameters.minFee), "min_stake": String(parameters.minStake),
            "slash_fraction_basis_points": parameters.slashFractionBasisPoints, "evidence_max_age_heights": parameters.evidenceMaxAgeHeights,
            "royalties": [
                "adapter_owner_basis_points": royalties.adapterOwnerBasisPoints, "protocol_basis_points": royalties.protocolBasisPoints,
                "contributors_basis_points": royalties.contributorsBasisPoints, "escrow_heights": royalties.escrowHeights,
            ],
        ]
    }

    static func vote(_ signed: SignedVote) -> [String: Any] {
        [
            "kind": signed.vote.kind == .prevote ? "prevote" : "precommit",
            "height": signed.vote.height,
            "round": signed.vote.round,
            "block_hash": signed.vote.blockHash?.hex ?? NSNull(),
            "validator": signed.validator.hex,
            "signature": signed.signature.hex,
        ]
    }

    static func header(_ header: BlockHeader) -> [String: Any] {
        [
            "chain_id": header.chainID,
            "height": header.height,
            "time_ms": header.timeMs,
            "previous_hash": header.previousHash.hex,
            "transactions_root": header.transactionsRoot.hex,
            "app_hash": header.appHash.hex,
            "proposer": header.proposer.hex,
        ]
    }

    static func block(_ block: Block) -> [String: Any] {
        [
            "hash": block.hash.hex,
            "header": header(block.header),
            "transactions": block.transactions.map(transaction),
            "certificate": [
                "round": block.certificate.round,
                "signatures": block.certificate.signatures.map { ["validator": $0.validator.hex, "signature": $0.signature.hex] },
            ] as [String: Any],
        ]
    }

    static func status(_ status: ChainStatus) -> [String: Any] {
        [
            "chain_id": status.chainID,
            "genesis_hash": status.genesisHash.hex,
            "height": status.height,
            "app_hash": status.appHash.hex,
            "last_block_hash": status.lastBlockHash.hex,
            "last_block_time_ms": status.lastBlockTimeMs,
        ]
    }

    static func datanet(_ id: Digest, _ datanet: Datanet) -> [String: Any] {
        [
            "id": id.hex, "owner": datanet.owner.hex, "name": datanet.name, "description": datanet.description,
            "created_height": datanet.createdHeight, "contribution_count": datanet.contributionCount,
            "contributed_bytes": datanet.contributedBytes,
        ]
    }

    static func adapter(_ hash: Digest, _ adapter: AdapterRecord) -> [String: Any] {
        [
            "adapter_hash": hash.hex, "owner": adapter.owner.hex, "base_model_hash": adapter.baseModelHash.hex,
            "datanets": adapter.datanets.map(\.hex), "name": adapter.name,
            "price_per_token": String(adapter.pricePerToken), "registered_height": adapter.registeredHeight,
        ]
    }
}
