import Attribution
import Crypto
import Ledger

/// Releases the contributors' escrow of a settled adapter answer: from the answer's signed
/// attribution proof, an `attribution` transaction (signed and fee-paid by this node, the
/// settlement's payee) naming the settlement, the proof's id, and each contributor's weight
/// with the contributor's highest-scoring document as the chain's evidence that they
/// contributed to the adapter's datanets.
///
/// An answer whose attribution has no positive score (no contributor), or that was skipped
/// (attribution queue full, no index), releases nothing: its escrow expires to the
/// validators (README, "Paying for answers").
struct RoyaltyReleaser: Sendable {
    let settler: PaymentSettler

    /// The release for `settlement`, or nil when the proof names no contributor.
    static func release(settlement: Digest, result: AttributionResult, proof: AttributionProof) -> AttributionRelease? {
        // `influence` runs highest score first: the first document of a contributor is their best.
        var best: [Digest: Digest] = [:]
        for entry in result.influence { if let contributor = entry.contributor, best[contributor] == nil { best[contributor] = entry.document } }
        var shares: [AttributionRelease.Share] = []
        for contributor in proof.contributors {
            guard let document = best[contributor.address] else { preconditionFailure("a contributor weighted without a document") }
            let units = contributor.weight * Double(AttributionRelease.weightTotal)
            precondition(units == units.rounded(), "a contributor weight off the 2^-40 grid")
            guard units > 0 else { continue }  // too small a share to be paid anything
            shares.append(.init(document: document, weight: UInt64(units)))
        }
        guard !shares.isEmpty else { return nil }
        return AttributionRelease(settlement: settlement, proof: proof.id, shares: shares.sorted { $0.document < $1.document })
    }

    /// Submits the release for a settlement transaction `settlement` and the answer's `outcome`.
    func release(settlement: Digest, outcome: AttributionService.Outcome) {
        let log = settler.node.log
        guard case let .attributed(result, proof) = outcome else {
            if case let .skipped(reason) = outcome { log.info("royalty escrow left to expire", ["settlement": settlement.hex, "reason": reason]) }
            return
        }
        guard let release = Self.release(settlement: settlement, result: result, proof: proof) else {
            return log.info("royalty escrow left to expire", ["settlement": settlement.hex, "reason": "no document scored positive"])
        }
        // More contributors than one transaction may name (`AttributionRelease.sharesMax`, 96).
        if let defect = release.defect { return log.warning("royalty escrow left to expire", ["settlement": settlement.hex, "reason": defect]) }
        do {
            let transaction = try settler.node.submitOwn(.attribution(release))
            log.info("royalty escrow released", ["settlement": settlement.hex, "proof": proof.id.hex, "transaction": transaction.hash.hex, "contributors": "\(release.shares.count)"])
        } catch {
            log.warning("royalty release not submitted", ["settlement": settlement.hex, "error": "\(error)"])
        }
    }
}
