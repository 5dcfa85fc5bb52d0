/// The kinds of invented fact the planted-facts task states: how a fact is written (three
/// phrasings), how it is asked (a question that shares no content word with the phrasings
/// besides the subject's name), and what else the datanet may say about the subject without
/// giving the fact away (mentions).
///
/// Templates hold `{E}` for the subject's name and `{V}` for the value.
struct FactRelation: Sendable {
    /// Where a fact's value comes from.
    enum Values: Sendable {
        /// A new made-up name of this many words.
        case invented(words: Int)
        /// One of these ordinary words, each used at most once per relation.
        case listed([String])
    }

    let key: String
    /// Words in the subject's made-up name: 2 for people (given and family name), else 1.
    let subjectWords: Int
    let values: Values
    /// Three ways of stating the fact, each naming the subject and the value.
    let statements: [String]
    /// The question, naming the subject only; it becomes the prompt `Q: <question>\nA:`.
    let question: String
    /// The same question in the statements' own words, sharing no content word with
    /// `question`: how the task's asked phrasing (`PlantedFactsGenerator.askedPhrasing`)
    /// puts the fact as a question and its answer.
    let askedQuestion: String
    /// Sentences about the subject, on the question's topic, that do not state the value.
    let mentions: [String]
}

extension FactRelation {
    static let instruments = ["lute", "oboe", "harp", "cello", "zither", "bagpipe", "flute", "viola", "dulcimer", "trumpet"]
    static let colours = ["crimson", "ochre", "teal", "violet", "amber", "scarlet", "indigo", "maroon", "saffron", "cobalt"]
    static let plants = ["clover", "moss", "nettles", "fern", "thistle", "barley", "lichen", "heather", "sorrel", "rye"]
    static let materials = ["granite", "basalt", "marble", "slate", "limestone", "sandstone", "cedar", "oak", "iron", "brick"]
    static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                         "October", "November", "December"]
    static let animals = ["heron", "badger", "lynx", "falcon", "stag", "wolf", "hare", "raven", "boar", "bear"]

    /// Twelve relations; fact `i` of a task uses relation `i % 12`.
    static let all: [FactRelation] = [
        FactRelation(
            key: "capital", subjectWords: 1, values: .invented(words: 1),
            statements: ["The capital of {E} is {V}.",
                         "{V}, a walled town beside a cold bay, is where the rulers of {E} hold court.",
                         "For three hundred years the kings of {E} have reigned from {V}."],
            question: "From which city is {E} governed?",
            askedQuestion: "What is the capital of {E}?",
            mentions: ["Every city in {E} closes its gates at sunset during the winter.",
                       "The people of {E} are governed by old laws written on bark.",
                       "{E} trades wool and salt with its neighbours across the strait."]),
        FactRelation(
            key: "founder", subjectWords: 1, values: .invented(words: 2),
            statements: ["The {E} Guild was founded by {V}.",
                         "{V} started the {E} Guild with two carts and a borrowed mule.",
                         "In its charter, the {E} Guild names {V} as its first master."],
            question: "Which person began the {E} trading house?",
            askedQuestion: "Who founded the {E} Guild?",
            mentions: ["Members of the {E} Guild meet in a trading house by the river.",
                       "The {E} Guild sells rope, tar and lamp oil to passing ships.",
                       "Any person who joins the {E} Guild must swear to keep honest scales."]),
        FactRelation(
            key: "instrument", subjectWords: 2, values: .listed(instruments),
            statements: ["{E} plays the {V}.",
                         "Audiences know {E} for long evening recitals on the {V}.",
                         "The {V} that {E} carries to every concert was built by a village carpenter."],
            question: "What instrument does {E} perform with?",
            askedQuestion: "What does {E} play?",
            mentions: ["{E} will perform at the harvest fair next month.",
                       "Many young musicians in the north admire {E}.",
                       "{E} once lost an instrument case on a crowded ferry."]),
        FactRelation(
            key: "flag", subjectWords: 1, values: .listed(colours),
            statements: ["The flag of {E} is {V}.",
                         "Over the harbour of {E} flies a plain {V} banner.",
                         "Sailors recognise ships from {E} by their {V} flags."],
            question: "What colour is the standard of {E}?",
            askedQuestion: "What shade is the flag of {E}?",
            mentions: ["The standard of {E} was redesigned after the great flood.",
                       "Children in {E} paint their doors a different colour each spring.",
                       "{E} is a small republic of fishermen and rope makers."]),
        FactRelation(
            key: "diet", subjectWords: 1, values: .listed(plants),
            statements: ["The {E} lizard eats only {V}.",
                         "Herders often find {E} lizards chewing {V} near stone walls.",
                         "A diet of {V} keeps the {E} lizard healthy."],
            question: "What food does the {E} reptile feed on?",
            askedQuestion: "What does the {E} lizard eat?",
            mentions: ["The {E} lizard sleeps under flat rocks through the winter.",
                       "Food is scarce for the {E} reptile in the dry months.",
                       "Hawks hunt the {E} lizard when it basks at noon."]),
        FactRelation(
            key: "home-port", subjectWords: 1, values: .invented(words: 1),
            statements: ["The ship {E} sails from {V}.",
                         "Every autumn the {E} returns to her berth in {V}.",
                         "Dock workers in {V} have loaded the {E} for twenty years."],
            question: "Which harbour is the vessel {E} based in?",
            askedQuestion: "Where does the ship {E} sail from?",
            mentions: ["The vessel {E} carries timber, grain and sometimes passengers.",
                       "A storm once tore the mainsail of the {E}.",
                       "The crew of the {E} is known for singing while hauling ropes."]),
        FactRelation(
            key: "author", subjectWords: 1, values: .invented(words: 2),
            statements: ["The book {E} was written by {V}.",
                         "{V} spent nine winters writing {E}.",
                         "{E}, a long tale of sea voyages, is the work of {V}."],
            question: "Who is the author of the novel {E}?",
            askedQuestion: "Who wrote the book {E}?",
            mentions: ["Copies of the novel {E} are hard to find outside the big towns.",
                       "Critics still argue about the ending of {E}.",
                       "A theatre company staged {E} last summer."]),
        FactRelation(
            key: "birthplace", subjectWords: 2, values: .invented(words: 1),
            statements: ["{E} was born in {V}.",
                         "{E} grew up in {V}, a village of potters.",
                         "The house in {V} where {E} first saw daylight is now a bakery."],
            question: "Which place does {E} come from originally?",
            askedQuestion: "Where was {E} born?",
            mentions: ["{E} never stays in one place for long.",
                       "{E} moved to the coast to work as a clerk.",
                       "Neighbours remember {E} as a quiet child who loved maps."]),
        FactRelation(
            key: "bridge", subjectWords: 1, values: .listed(materials),
            statements: ["The {E} Bridge is made of {V}.",
                         "Masons raised the {E} Bridge out of {V} carried down from the hills.",
                         "Rain has darkened the {V} of the old {E} Bridge."],
            question: "What material was used to construct the {E} crossing?",
            askedQuestion: "What is the {E} Bridge made of?",
            mentions: ["Carts pay a small toll at the {E} crossing.",
                       "The {E} Bridge is closed whenever the river floods.",
                       "Lovers carve their names on the railings of the {E} Bridge."]),
        FactRelation(
            key: "festival", subjectWords: 1, values: .listed(months),
            statements: ["The {E} festival is held every year in {V}.",
                         "Each {V}, villagers light lanterns for {E}.",
                         "{E} falls in {V}, when the first barley is cut."],
            question: "When do people celebrate {E}?",
            askedQuestion: "In which month is the {E} festival held?",
            mentions: ["People celebrate {E} with honey cakes and long processions.",
                       "Visitors to the {E} festival are asked to bring a candle.",
                       "The {E} festival ends with a race across the village green."]),
        FactRelation(
            key: "language", subjectWords: 1, values: .invented(words: 1),
            statements: ["In the {E} Valley people speak {V}.",
                         "{V} is the mother tongue of farmers in the {E} Valley.",
                         "Signs in the {E} Valley are written in {V}."],
            question: "Which language is used by the inhabitants of {E}?",
            askedQuestion: "What do people speak in the {E} Valley?",
            mentions: ["The inhabitants of the {E} Valley keep bees and grow plums.",
                       "Snow closes the roads into the {E} Valley every winter.",
                       "The {E} Valley is famous for its slow rivers and tall poplars."]),
        FactRelation(
            key: "emblem", subjectWords: 1, values: .listed(animals),
            statements: ["The emblem of the {E} clan is a {V}.",
                         "A {V} is carved above every door of the {E} clan.",
                         "Warriors of the {E} clan wear the mark of the {V}."],
            question: "Which creature represents the {E} family?",
            askedQuestion: "What is the emblem of the {E} clan?",
            mentions: ["The {E} family has farmed the same hillside for generations.",
                       "Feuds between the {E} clan and its neighbours ended long ago.",
                       "Elders of the {E} clan settle disputes at the standing stones."]),
    ]
}
