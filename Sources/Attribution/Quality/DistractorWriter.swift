/// Writes the planted-facts task's unrelated documents from `DistractorTopics`: a topic, one
/// to three of its sentences (distinct), each slot drawn on its own.
struct DistractorWriter {
    private var draws: SeededDraws
    private let people: [String]
    private let places: [String]

    /// `people` and `places` are the made-up names slots draw from (at least two places).
    init(draws: SeededDraws, people: [String], places: [String]) {
        precondition(!people.isEmpty && places.count >= 2, "distractors need people and at least two places")
        self.draws = draws
        self.people = people
        self.places = places
    }

    /// The next document's text.
    mutating func document() -> String {
        let topic = draws.element(of: DistractorTopics.all)
        let sentences = draws.distinctIndices(draws.integer(in: 1...3), below: topic.count)
        return sentences.map { sentence(topic[$0]) }.joined(separator: " ")
    }

    private mutating func sentence(_ template: String) -> String {
        var village: String?
        var town: String?
        let text = TemplateSlots.fill(template) { slot in
            switch slot {
            case "person": return draws.element(of: people)
            case "village", "town":
                let other = slot == "village" ? town : village
                var place = draws.element(of: places)
                while place == other { place = draws.element(of: places) }
                if slot == "village" { village = place } else { town = place }
                return place
            case "number": return String(draws.integer(in: 2...60))
            case "weekday": return draws.element(of: DistractorTopics.weekdays)
            case "month": return draws.element(of: FactRelation.months)
            case "colour": return draws.element(of: FactRelation.colours)
            case "animal": return draws.element(of: FactRelation.animals)
            case "plant": return draws.element(of: FactRelation.plants)
            case "material": return draws.element(of: FactRelation.materials)
            case "instrument": return draws.element(of: FactRelation.instruments)
            case "food": return draws.element(of: DistractorTopics.foods)
            default: preconditionFailure("unknown distractor slot {\(slot)}")
            }
        }
        return text.prefix(1).uppercased() + text.dropFirst()
    }
}
