/// How the query's forward pass runs. Each way takes its own kernels, so the query gradient's
/// bits depend on it: a proof names it and a verifier replays it.
public enum QueryForward: String, Sendable, CaseIterable {
    /// The inference engine's passes as generation runs a lone answer — the prompt in one pass,
    /// then each completion token but the last in its own — recorded for the backward pass: the
    /// gradient of an answer generated here (`Attributor.generate`) reuses them and needs no
    /// forward pass of its own, but replaying reads the weights once per token, as generating does.
    case generation
    /// The gradient engine's own forward pass over the prompt and the completion at once: for a
    /// completion given rather than generated alone here (a serving node batches answers with
    /// other requests, so it computes the gradient anew anyway) — the cheapest to replay.
    case singlePass = "single_pass"
}
