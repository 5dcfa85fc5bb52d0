/// The ten classes of DataInf's "math templates" task (Kwon et al., ICLR 2024, §4.3): word
/// problems of one shape each, about a person with a made-up name, with drawn numbers and the
/// answer computed from them. Every answer is a whole number by construction (divisions are
/// exact or ask for whole crates).
public enum MathTemplate: String, CaseIterable, Sendable {
    case leftovers
    case lanterns
    case goats
    case walking
    case practice
    case discount
    case plotArea = "plot-area"
    case savings
    case crates
    case interest

    /// The problem's text about `name`, with `numbers` (from `drawNumbers`) in the order they appear.
    public func problem(name: String, numbers n: [Int]) -> String {
        switch self {
        case .leftovers: "\(name) baked \(n[0]) rolls for the fair. Visitors ate \(n[1]) in the morning and \(n[2]) in the afternoon. How many rolls were left?"
        case .lanterns: "On a school outing \(name) brings \(n[0]) lanterns for every \(n[1]) children. How many lanterns are needed for \(n[2]) children?"
        case .goats: "\(name) keeps \(n[0]) goats and \(n[1]) hens. At the spring fair \(name) buys \(n[2]) more goats. How many goats does \(name) have now?"
        case .walking: "\(name) walked \(n[0]) miles on Monday, \(n[1]) on Tuesday, \(n[2]) on Wednesday and \(n[3]) on Thursday. How many miles is that altogether?"
        case .practice: "\(name) practises the fiddle for \(n[0]) minutes every day. How many minutes is that over \(n[1]) days?"
        case .discount: "A coat at the stall of \(name) costs \(n[0]) coins. In the sale it is \(n[1]) coins cheaper. What does the coat cost in the sale?"
        case .plotArea: "The vegetable plot of \(name) is \(n[0]) metres long and \(n[1]) metres wide. How many square metres does it cover?"
        case .savings: "\(name) puts \(n[0]) coins in a jar each week. How many coins are in the jar after \(n[1]) weeks?"
        case .crates: "\(name) has \(n[0]) pears and packs them in crates that hold \(n[1]) each. How many crates can be filled completely?"
        case .interest: "\(name) lends \(n[0]) coins at \(n[1]) percent interest a year. How many coins of interest are due after \(n[2]) years?"
        }
    }

    /// The answer to the problem with `numbers`.
    public func answer(_ n: [Int]) -> Int {
        switch self {
        case .leftovers: n[0] - n[1] - n[2]
        case .lanterns: n[0] * n[2] / n[1]
        case .goats: n[0] + n[2]
        case .walking: n[0] + n[1] + n[2] + n[3]
        case .practice, .plotArea, .savings: n[0] * n[1]
        case .discount: n[0] - n[1]
        case .crates: n[0] / n[1]
        case .interest: n[0] * n[1] * n[2] / 100
        }
    }

    /// Numbers for one problem, mostly 1–99 as in DataInf, drawn so the answer is a sensible
    /// whole number: nothing eaten beyond what was baked, children in whole groups, a price
    /// above its discount, a loan in hundreds.
    func drawNumbers(_ draws: inout SeededDraws) -> [Int] {
        switch self {
        case .leftovers:
            let morning = draws.integer(in: 1...40), afternoon = draws.integer(in: 1...40)
            return [draws.integer(in: (morning + afternoon)...99), morning, afternoon]
        case .lanterns:
            let lanterns = draws.integer(in: 2...9), group = draws.integer(in: 2...9)
            return [lanterns, group, group * draws.integer(in: 2...12)]
        case .goats:
            return (0..<3).map { _ in draws.integer(in: 1...99) }
        case .walking:
            return (0..<4).map { _ in draws.integer(in: 1...99) }
        case .practice, .plotArea, .savings:
            return (0..<2).map { _ in draws.integer(in: 1...99) }
        case .discount:
            let price = draws.integer(in: 2...99)
            return [price, draws.integer(in: 1...(price - 1))]
        case .crates:
            let size = draws.integer(in: 2...12)
            return [draws.integer(in: size...99), size]
        case .interest:
            return [100 * draws.integer(in: 1...9), draws.integer(in: 1...9), draws.integer(in: 1...9)]
        }
    }
}
