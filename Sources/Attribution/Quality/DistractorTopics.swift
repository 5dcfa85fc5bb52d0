/// Sentences for the planted-facts task's unrelated documents: everyday topics, invented but
/// plausible, with slots filled by `DistractorWriter`. A document is one to three sentences of
/// one topic.
///
/// Slots: `{person}` (a made-up given name), `{village}` and `{town}` (made-up places, never
/// the same in one sentence), `{number}` (2–60), `{weekday}`, `{month}`, `{colour}`,
/// `{animal}`, `{plant}`, `{material}`, `{instrument}`, `{food}`.
enum DistractorTopics {
    static let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    static let foods = ["bread", "pies", "oatcakes", "dumplings", "pancakes", "porridge", "stew", "buns", "biscuits", "soup"]

    static let all: [[String]] = [
        // weather
        ["Rain is expected in {village} on {weekday}.",
         "A cold wind blew across the {village} marshes all through {month}.",
         "The river at {town} rose {number} centimetres after the storm.",
         "Fog kept the fishing boats of {village} in port until noon.",
         "Farmers in {village} say a dry {month} means a poor harvest.",
         "Hail broke {number} windows in {town} on {weekday} night."],
        // cooking
        ["{person} bakes {food} every {weekday} morning.",
         "Add a pinch of salt before the {food} goes into the oven.",
         "The soup at the inn in {village} tastes of {plant} and pepper.",
         "Leave the dough to rest for {number} minutes.",
         "{person} serves {food} with butter and sharp cheese.",
         "A good stew needs onions, barley and patience."],
        // gardening
        ["{plant} grows well in shady corners of the garden.",
         "{person} planted {number} rows of beans behind the barn.",
         "Water the seedlings early, before the sun is high.",
         "Snails ate half of the lettuce in the garden of {person}.",
         "Cut back the {plant} in late {month}.",
         "The orchard in {village} gave {number} baskets of apples this year."],
        // markets
        ["{person} sells {material} tiles at the market in {village}.",
         "Prices for grain rose again this {month}.",
         "The market in {town} opens at dawn on {weekday}.",
         "A pair of boots costs {number} coins at the cobbler's stall.",
         "Merchants from {village} bring {colour} cloth and dried fish to {town}.",
         "{person} bought {number} eggs and a jar of honey."],
        // animals
        ["A {animal} was seen near the mill at {village} on {weekday}.",
         "The {animal} hunts at dusk and sleeps through the day.",
         "Bird watchers counted {number} swallows over the fields near {town}.",
         "{person} found a lame {animal} by the road and carried it home.",
         "Goats on the hills above {village} are brought down before the first snow.",
         "Bees from the meadow visit the {plant} all summer."],
        // crafts
        ["{person} repairs old {instrument}s in a workshop in {village}.",
         "The blacksmith of {town} forged {number} nails before lunch.",
         "{person} built a garden wall of {material}.",
         "A weaver in {village} needs {number} days for one {colour} rug.",
         "The potter fires the kiln every {weekday}.",
         "{person} sanded the table until it was smooth as glass."],
        // travel
        ["The coach from {village} to {town} takes {number} hours.",
         "{person} missed the last ferry and slept at the harbour inn.",
         "The road over the pass stays closed until {month}.",
         "Pilgrims rest in {village} before the long climb.",
         "{person} walked from {village} to {town} in {number} days.",
         "Travellers should carry water on the dry road south of {town}."],
        // music
        ["The choir in {village} rehearses on {weekday} evenings.",
         "The {instrument} maker in {town} takes {number} weeks over each piece.",
         "{person} hums the same old tune while washing dishes.",
         "The band played until midnight at the wedding in {village}.",
         "Street singers in {town} gather by the fountain on {weekday}."],
        // sport
        ["{village} beat {town} by {number} goals on {weekday}.",
         "{person} won the spring footrace for the third time.",
         "The chess club of {town} meets above the bakery.",
         "Rowers train on the lake at {village} before sunrise.",
         "{person} scored {number} points in the final game of the season."],
        // home
        ["{person} painted the kitchen door {colour}.",
         "The lamp in the hall needs a new wick.",
         "{person} lost a key somewhere between the well and the barn.",
         "The roof of the cottage in {village} leaks when the wind is from the east.",
         "{person} keeps {number} jars of pickles in the cellar.",
         "The curtain in the window of the corner house is {colour}."],
        // school
        ["The teacher in {village} has {number} pupils this year.",
         "{person} reads aloud to the younger children after supper.",
         "Lessons in {town} begin again in {month}.",
         "{person} learned to count to {number} in three languages.",
         "The school in {village} needs a new stove before winter."],
        // health
        ["Drink warm water with {plant} for a sore throat.",
         "The doctor in {village} visits the farms on {weekday}.",
         "{person} rests for {number} minutes after every long walk.",
         "The herbalist in {town} dries {plant} on racks in the attic.",
         "Fresh air and early nights helped {person} recover."],
    ]
}
