"""A tagged English vocabulary: common content words with a part of speech and a semantic category.

The near-homophone miner (`pairs.py`) searches this vocabulary for words one phoneme apart, so it is
deliberately broad and dense in short, common, concrete words (pin tin fin thin shin, map nap cap tap,
mail nail sail tail, ...) with every consonant at the start and the end of words and every vowel.
It is *not* a list of pairs: pairs are found automatically.

Every category has sentence templates in `sentences.py` that read naturally for each of its words,
so any word here can be put into sentences whose context carries its meaning (an animal eats and
hides, a tool is borrowed and put back, a motion verb is done). Rules the data keeps (and
tests/test_sentences.py checks): lowercase letters only, single words, no proper nouns, nouns singular,
verbs in the base form, adjectives plain, each word in exactly one category. Words whose spelling has
two pronunciations (wind/wound, lead, tear, bow, row, live, close, desert, ...) are avoided where the
sense would be in doubt, since pronunciations come from espeak-ng's rules for the isolated word.
"""

from __future__ import annotations

from dataclasses import dataclass

POS = ("noun", "verb", "adj")

# category: (part of speech, space-separated words). Insertion order is the canonical category order.
_CATEGORIES: dict[str, tuple[str, str]] = {
    # ---------------------------------------------------------------- nouns
    "animal": (
        "noun",
        """
        cat dog rat bat mouse horse cow pig goat sheep lamb bull calf fox wolf bear deer hare rabbit
        mole ram ewe mule donkey pony colt foal lion tiger cub puppy kitten hog boar yak ox bison camel
        llama zebra giraffe hippo rhino monkey ape gorilla panda koala otter beaver badger skunk
        squirrel hamster gerbil toad frog snake lizard newt turtle tortoise elk moose mink weasel vole
        shrew lynx puma leopard cheetah kangaroo hedgehog bunny mare stag doe hound pup gnu jaguar
        raccoon chipmunk ferret buffalo antelope gazelle coyote crocodile alligator elephant poodle
        collie terrier bulldog chimp cobra python viper
        hen duck owl crow dove swan goose jay wren lark hawk robin gull crane stork heron eagle parrot
        pigeon rook finch raven sparrow thrush ostrich penguin turkey quail pheasant puffin magpie
        falcon vulture canary rooster gander drake emu cuckoo woodpecker peacock flamingo pelican
        starling blackbird kingfisher chicken buzzard bird
        """,
    ),
    "bug": (
        "noun",
        """
        bee ant moth wasp gnat flea bug worm snail slug spider beetle midge mite hornet ladybug
        ladybird firefly caterpillar butterfly mosquito termite grasshopper locust maggot
        cockroach dragonfly bumblebee centipede scorpion leech
        """,
    ),
    "sea_creature": (
        "noun",
        """
        fish shark whale seal crab clam eel squid cod tuna shrimp prawn oyster mussel lobster octopus
        dolphin salmon trout carp perch pike herring sardine jellyfish starfish walrus minnow orca
        stingray seahorse mackerel haddock anchovy goldfish catfish urchin porpoise
        """,
    ),
    "animal_part": (
        "noun",
        """
        fin tail wing paw claw hoof beak feather whisker mane tusk antler gill hump fang snout quill
        talon flipper tentacle crest pincer
        """,
    ),
    "body": (
        "noun",
        """
        arm leg hand foot head neck back knee chin lip nose ear eye cheek hip toe shin heel thumb palm
        wrist jaw elbow ankle finger shoulder chest belly thigh tongue throat fist waist scalp knuckle
        mouth face forehead eyebrow eyelid brow skin spine rib stomach tummy nostril toenail fingernail
        """,
    ),
    "food": (
        "noun",
        """
        bread rice cake pie bun jam ham meat beef pork egg cheese soup toast butter honey pasta pizza
        salad bacon steak sausage cookie biscuit muffin bagel curry stew sauce gravy pudding waffle
        pancake donut fudge toffee chocolate cereal porridge yogurt cream jelly tart omelette sandwich
        burger pretzel popcorn cracker crust kebab noodle dough pastry sushi taco candy mince veal
        mutton scone crumble custard flan quiche lasagna icing syrup mustard ketchup mayonnaise vinegar
        spice tofu
        """,
    ),
    "produce": (
        "noun",
        """
        apple pear plum peach grape lime lemon fig melon berry cherry carrot onion leek potato tomato
        pepper bean pea corn cabbage lettuce spinach kale radish turnip beet mango kiwi banana orange
        olive garlic ginger celery pumpkin zucchini broccoli cauliflower mushroom apricot
        coconut yam nut peanut almond walnut hazelnut chestnut raisin lentil cucumber avocado
        pineapple strawberry raspberry blueberry grapefruit tangerine rhubarb parsley mint basil thyme
        sage parsnip artichoke asparagus aubergine eggplant gooseberry blackberry cranberry watermelon
         quince papaya pomegranate chili shallot gourd marrow
        """,
    ),
    "drink": (
        "noun",
        """
        tea milk juice coffee cocoa soda wine beer cider lemonade ale rum gin tonic broth smoothie
        milkshake water lager whisky brandy sherry champagne espresso latte cola vodka
        """,
    ),
    "kitchen": (
        "noun",
        """
        pan pot cup mug bowl dish plate fork knife spoon jug lid tray ladle sieve whisk grater peeler
        teapot saucer napkin wok colander spatula skillet apron corkscrew saucepan platter
        goblet strainer toothpick skewer coaster teaspoon tablespoon funnel tablecloth
         kettle
        """,
    ),
    "tool": (
        "noun",
        """
        saw hammer nail drill axe rake hoe spade shovel screw bolt wrench spanner chisel ladder rope
        wire hose brush broom mop tape glue clamp lever pump torch needle hook chain peg crowbar
        mallet trowel pitchfork wheelbarrow plough sickle scythe pickaxe sledgehammer screwdriver
        padlock hacksaw magnet lantern rod
        """,
    ),
    "clothing": (
        "noun",
        """
        hat cap coat shirt skirt dress sock shoe boot belt scarf glove vest tie suit gown robe cape
        cloak jacket jumper sweater blouse sandal slipper mitten shawl hood veil sash collar necklace
        bracelet earring brooch locket uniform overcoat raincoat bonnet beret helmet bikini swimsuit
        tracksuit hoodie blazer tunic kilt sneaker stocking mitt bandana turban crown wig jersey
        cardigan poncho parka outfit costume sari mask
        """,
    ),
    "furniture": (
        "noun",
        """
        bed desk chair table sofa couch stool bench shelf lamp rug mat carpet curtain cot crib cushion
        pillow blanket sheet quilt mirror vase frame drawer cupboard wardrobe closet dresser cabinet
        bath shower toilet bathtub armchair bookcase bunk hammock cradle duvet futon clock picture
        poster candle ornament chandelier
        """,
    ),
    "house_part": (
        "noun",
        """
        door wall floor roof window gate fence stair step porch attic cellar chimney ceiling kitchen
        bedroom bathroom garden yard lawn balcony loft basement doorway corridor hallway patio terrace
        driveway doorstep gutter pipe staircase hall lobby room tile
        """,
    ),
    "building": (
        "noun",
        """
        house hut shed barn shop mall bank school church temple hotel inn pub cafe office station farm
        mill tower castle palace fort prison jail park zoo museum library hospital clinic market store
        factory cabin camp lodge cottage port dock airport gym stadium theatre cinema bakery bridge
        chapel mosque garage pharmacy supermarket restaurant canteen court arena harbour shelter studio
        motel hostel gallery kiosk booth warehouse depot playground nursery bar spa
        """,
    ),
    "landscape": (
        "noun",
        """
        hill rock cliff cave pit hole ditch field meadow forest woodland jungle dune marsh swamp bog
        moor peak ridge slope valley canyon gorge mound trail island reef volcano glacier beach shore
        coast lake pond river stream creek brook bay cove sea ocean pool waterfall canal lagoon
        fountain puddle dam crater prairie plateau summit mountain hillside riverbank orchard vineyard
        pasture quarry cavern grove oasis path track heath glen pier isle
        """,
    ),
    "weather": (
        "noun",
        """
        rain snow hail wind storm fog mist frost sleet thunder lightning drizzle breeze gale gust flood
        drought heat haze smog blizzard dew cloud weather hurricane tornado monsoon heatwave downpour
        thaw snowfall rainfall
        """,
    ),
    "plant": (
        "noun",
        """
        tree bush shrub hedge grass weed moss fern vine rose lily tulip daisy oak pine elm ivy flower
        herb cactus bamboo willow maple cedar birch poppy clover orchid lavender sunflower nettle
        thistle reed heather holly yew beech fir ash bluebell daffodil dandelion buttercup marigold
        jasmine seedling sapling bonsai lilac poplar spruce
        """,
    ),
    "vehicle": (
        "noun",
        """
        car bus van cab taxi train tram truck bike boat ship ferry yacht canoe raft jet plane sled cart
        wagon tractor lorry carriage helicopter motorbike jeep barge kayak scooter bicycle
        caravan trailer ambulance minibus dinghy submarine unicycle
        """,
    ),
    "sport": (
        "noun",
        """
        golf tennis chess polo rugby hockey football soccer bingo poker snooker baseball basketball
        volleyball netball badminton squash cricket lacrosse softball handball croquet hopscotch
        """,
    ),
    "toy": (
        "noun",
        """
        ball kite doll toy puzzle balloon puppet teddy hoop puck racket yoyo skateboard jigsaw
        dollhouse tricycle kazoo slingshot boomerang
        """,
    ),
    "music": (
        "noun",
        """
        drum harp flute lute bell piano guitar violin cello banjo tuba oboe organ fiddle trumpet bugle
        gong cymbal harmonica accordion clarinet saxophone trombone ukulele xylophone mandolin viola
        horn bagpipe tambourine harpsichord sitar
        """,
    ),
    "material": (
        "noun",
        """
        wood iron steel tin gold silver copper brass zinc glass plastic paper cloth wool silk cotton
        linen leather fur clay stone marble rubber cement concrete foil chalk straw timber velvet denim
        nylon canvas metal bronze chrome plaster cardboard fabric crystal granite slate fleece suede
        tweed satin lace mesh wicker cork porcelain yarn thread string cord twine sand gravel ice oil
        ink paint wax soap tar foam coal hay
        """,
    ),
    "container": (
        "noun",
        """
        box bag sack can bin basket case crate barrel tub bottle flask trunk purse wallet pouch envelope
        packet parcel carton cage bucket pail jar suitcase backpack rucksack handbag briefcase satchel
        hamper urn tank canister locker toolbox vat
        """,
    ),
    "person": (
        "noun",
        """
        man woman boy girl kid child aunt uncle niece nephew mum dad father mother brother sister
        cousin wife husband bride groom king queen prince princess lady lord knight guest host friend
        pal neighbour stranger thief hero twin adult teen youth lad lass guy gentleman grandma grandpa
        granny daughter son parent widow chap fellow visitor tourist passenger customer partner giant
        villain witch wizard fairy pirate leader champion winner owner rival member
        """,
    ),
    "job": (
        "noun",
        """
        chef baker butcher farmer doctor nurse vet judge clerk cop guard maid nanny pilot sailor soldier
        tailor teacher miner driver writer poet actor singer dancer painter plumber builder waiter
        cashier banker lawyer dentist barber captain coach postman mayor monk nun priest spy guide scout
        sheriff fisherman hunter gardener cleaner porter chemist vicar ranger zookeeper shepherd jockey
        referee umpire editor author artist sculptor potter weaver carpenter mechanic engineer surgeon
        professor tutor student manager boss officer detective reporter journalist photographer
        secretary servant butler courier grocer florist jeweller librarian architect scientist
        lifeguard firefighter astronaut magician clown musician drummer
        """,
    ),
    "time": (
        "noun",
        """
        day week month year hour morning evening afternoon weekend holiday spring summer autumn winter
        season fortnight term semester vacation night
        """,
    ),
    "money": (
        "noun",
        """
        price cost bill tax fee rent loan debt wage salary fare toll budget bonus pension income profit
        deposit payment mortgage discount allowance fund invoice penalty
        """,
    ),
    "small_item": (
        "noun",
        """
        coin penny key button bead stamp ticket token badge pebble shell coupon card note map pen pencil
        notebook diary folder ruler eraser crayon marker sticker label letter magazine newspaper comb
        lighter umbrella pin clip paperclip photo postcard passport leaflet calendar toothbrush
        razor book novel dice gem
        """,
    ),
    "schoolwork": (
        "noun",
        """
        lesson test exam quiz essay poem story homework speech report project riddle task assignment
        problem question sum chapter presentation
        """,
    ),
    "device": (
        "noun",
        """
        phone radio camera laptop computer screen printer tablet battery cable plug charger bulb alarm
        keyboard speaker television oven fridge freezer toaster microwave dishwasher blender mixer
        cooker heater fan hairdryer vacuum headset modem watch remote thermostat projector scanner
        monitor console robot drone stereo
        """,
    ),
    # ---------------------------------------------------------------- verbs (base form)
    "motion": (
        "verb",
        """
        run walk jog hop skip jump leap climb crawl swim dive fly glide slide skate ski sail ride race
        dash march stroll wander roam float spin dance hike paddle surf sprint swing bounce tiptoe
        stride wade drift cycle rush hurry roll tumble waddle trot gallop zoom move
        """,
    ),
    "body_action": (
        "verb",
        """
        cough sneeze yawn blink wink nod smile grin frown laugh cry weep sigh sweat snore shiver shrug
        gasp sniff stare glance peek peep gaze look listen squint giggle chuckle sob pout blush
        tremble hiccup stretch wave clap scowl grimace
        """,
    ),
    "cooking": (
        "verb",
        """
        bake boil fry grill roast steam stir mix chop slice peel grate mash knead melt cook sift brew
        simmer poach carve spread marinate blend drain freeze chill serve taste crack whip scramble
        sprinkle garnish pickle dip baste broil churn
        """,
    ),
    "handling": (
        "verb",
        """
        hold lift drop push pull grab grip hug shake throw catch toss kick hit pat tap rub wipe scrub
        wash fold pack wrap fix mend open shut carry fetch hang fill pour press squeeze pinch poke touch
        stroke bend snap cut dig sweep build make draw sew knit weave sketch stitch print repair
        twist turn flip stack sort count weigh measure mark trim shave hide keep check bite chew lick
        smell bury burn crush smash break rip split lock raise shove nudge drag haul heave tug yank
        wiggle swap deliver rinse soak scrape trace copy kiss polish mail post send
        pick tip zip mow dye dab
        """,
    ),
    "speech": (
        "verb",
        """
        talk chat speak shout yell whisper sing read write spell argue joke pray complain agree mutter
        mumble call reply answer explain boast brag chatter gossip preach scream cheer vote recite
        ask apologise chant
        """,
    ),
    "sound": (
        "verb",
        """
        ring buzz hum hiss bark howl purr roar moan beep honk chirp tick click creak squeak rattle
        chime clang bang thud boom crackle sizzle whistle squeal growl whine wail hoot tweet crash pop
        clatter rumble jingle tinkle croak quack neigh cluck grunt snort clink crunch thump knock
        echo rustle splash drip screech ding toot
        """,
    ),
    "daily": (
        "verb",
        """
        eat drink play work study rest relax travel bathe dine feast sleep nap dream sit stand wait
        stay visit picnic queue commute exercise practise hunt learn teach
        """,
    ),
    # ---------------------------------------------------------------- adjectives
    "size": (
        "adj",
        """
        big small tiny huge vast long short wide narrow broad deep shallow flat round thick high low
        steep massive little large enormous square curved straight crooked hollow solid empty full
        heavy light fast slow quick
        """,
    ),
    "colour": (
        "adj",
        """
        red blue green pink black white grey brown purple violet tan beige navy crimson scarlet yellow
        teal turquoise maroon golden amber khaki magenta indigo
        """,
    ),
    "texture": (
        "adj",
        """
        soft hard rough smooth wet damp sticky slimy fluffy furry silky bumpy sharp blunt firm loose
        tight stiff greasy oily dusty muddy slippery prickly fuzzy soggy dry hairy spiky lumpy shiny
        dull gritty squishy springy
        """,
    ),
    "weather_adj": (
        "adj",
        """
        hot cold warm cool chilly mild icy frosty foggy windy rainy sunny cloudy stormy misty snowy
        humid breezy freezing muggy gloomy clear bright wintry dreary
        """,
    ),
    "person_adj": (
        "adj",
        """
        happy sad angry calm tired sleepy bored scared shy proud lonely upset grumpy jolly cheerful
        nervous worried excited curious jealous anxious relaxed hungry thirsty sick weary cross pleased
        thrilled eager keen merry moody restless grateful hopeful homesick confused puzzled surprised
        shocked ashamed embarrassed frightened furious tall thin slim young old pale strong weak blonde
        bald pretty handsome cute elderly muscular tanned scruffy elegant beautiful tough
        """,
    ),
    "character": (
        "adj",
        """
        kind nice mean rude polite wise silly smart clever honest fair brave generous selfish
        thoughtful foolish bold sensible careless careful noble cruel unkind unfair friendly helpful
        clumsy naughty cheeky modest patient greedy thoughtless daft loyal lazy good wicked stubborn
        decent vain
        """,
    ),
    "quality": (
        "adj",
        """
        new clean dirty cheap neat messy tidy fancy plain simple safe strange odd weird
        broken quiet loud noisy silent busy crowded dark modern ancient shabby cosy posh grand
        lovely ugly nasty awful perfect fine bad great expensive spacious cramped bare smelly dim
        """,
    ),
    "taste": (
        "adj",
        """
        sweet sour salty bitter spicy bland tasty juicy ripe rotten stale creamy crunchy crisp rich
        fresh tangy zesty savoury delicious yummy fruity nutty chewy smoky burnt raw tender moist
        sugary peppery mouldy
        """,
    ),
}


@dataclass(frozen=True)
class Entry:
    word: str
    pos: str  # "noun" | "verb" | "adj"
    category: str


def _build() -> dict[str, Entry]:
    lexicon: dict[str, Entry] = {}
    for category, (pos, text) in _CATEGORIES.items():
        if pos not in POS:
            raise ValueError(f"category {category!r}: unknown part of speech {pos!r}")
        for word in text.split():
            if not (word.isascii() and word.isalpha() and word.islower()):
                raise ValueError(f"category {category!r}: {word!r} is not a lowercase alphabetic word")
            if word in lexicon:
                raise ValueError(f"{word!r} is in both {lexicon[word].category!r} and {category!r}")
            lexicon[word] = Entry(word, pos, category)
    return lexicon


LEXICON: dict[str, Entry] = _build()
CATEGORIES: tuple[str, ...] = tuple(_CATEGORIES)


def category_words(category: str) -> list[str]:
    """The words of one category, in the order they are listed."""
    if category not in _CATEGORIES:
        raise KeyError(f"unknown category {category!r}; choose one of {CATEGORIES}")
    return _CATEGORIES[category][1].split()


def category_pos(category: str) -> str:
    if category not in _CATEGORIES:
        raise KeyError(f"unknown category {category!r}; choose one of {CATEGORIES}")
    return _CATEGORIES[category][0]


def words_with_pos(pos: str) -> list[str]:
    """Every word with part of speech `pos` ("noun", "verb" or "adj"), in lexicon order."""
    if pos not in POS:
        raise ValueError(f"unknown part of speech {pos!r}; choose one of {POS}")
    return [w for w, e in LEXICON.items() if e.pos == pos]
