"""Deterministic English sentences that put each lexicon word into a context fitting its meaning.

Every category of `lexicon.py` has 6-9 templates. A template holds the target slot ``{w}`` once,
other slots (``{name}``, ``{place}``, ``{time}``, ...) filled from the small lists in `SLOTS`, and
``{a}``, which becomes "a" or "an" for the word that follows it (`indefinite_article`). The context
carries the category's meaning -- animals hide and eat, food is bought and smelled, tools are
borrowed, motion verbs are done somewhere -- so two near-homophones of different categories land
in semantically different sentences ("Look closely at the fin in this photo, Tom." vs "The thin man
waited by the door last night.").

The target word appears exactly as in the lexicon, as its own token (nouns singular, verbs in the
base form, never at the start of a sentence, never inflected or possessive).

Determinism: all choices come from `random.Random` seeded with a string built from the seed and the
word (string seeds are hashed with SHA-512 by `random`, not with the salted `hash()`); nothing depends
on set order. The same arguments give the same list in any process; a different seed gives a
different selection and order.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from w2s.corpus.lexicon import LEXICON

# ---------------------------------------------------------------------------------------------- slots
# Each list is written so that every value reads naturally in every template that uses the slot.
SLOTS: dict[str, tuple[str, ...]] = {
    "name": (
        "Tom", "Anna", "Sam", "Lucy", "Ben", "Maria", "Jack", "Emma",
        "Leo", "Nina", "Omar", "Grace", "Ravi", "Julia", "Hugo", "Ella",
    ),
    "friend": ("Zoe", "Adam", "Clara", "Felix", "Rosa", "Ivan", "Mira", "Paul"),
    # past or neutral times, usable at the end of a past-tense sentence or, capitalised, at its start
    "time": (
        "this morning", "last night", "yesterday", "on Sunday", "after lunch",
        "in the evening", "last week", "on Friday",
    ),
    # future times
    "later": (
        "today", "tomorrow", "tonight", "this afternoon", "on Sunday",
        "at the weekend", "later", "next week",
    ),
    # after "until"
    "when": ("yesterday", "last night", "this morning", "last week", "last month", "today", "Friday"),
    "place": (
        "the park", "the river", "the old farm", "the village", "the beach",
        "the school", "the station", "the market", "the forest", "the lake",
    ),
    "kin": ("uncle", "aunt", "grandfather", "grandmother", "cousin", "brother", "sister", "neighbour"),
    "person": (
        "my uncle", "our neighbour", "my sister", "the farmer",
        "my best friend", "the teacher", "my grandmother", "my father",
    ),
    "town": (
        "Paris", "Rome", "Dublin", "Boston", "Oslo", "Madrid", "Vienna",
        "Lisbon", "Prague", "Berlin", "Sydney", "Toronto",
    ),
    "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "day": ("Monday", "Wednesday", "Friday", "Saturday", "Sunday", "morning", "evening", "weekend"),
    "season": ("winter", "summer", "autumn", "spring"),
    "journey": ("walk", "hike", "climb", "drive", "swim", "match", "ride", "flight", "day"),
    "event": ("party", "wedding", "concert", "lesson", "meeting", "film", "game", "speech", "dinner", "show"),
    "meal": ("breakfast", "lunch", "dinner", "supper"),
    "colour": ("red", "blue", "green", "black", "white", "yellow", "brown", "grey", "pink", "orange", "purple"),
    "fit": ("small", "big", "tight", "loose", "long", "short"),
    "praise": ("nice", "smart", "lovely", "warm", "great", "good"),
    "taste": (
        "delicious", "a bit salty", "really fresh", "too sweet", "rather bland",
        "amazing", "wonderful", "a little strange",
    ),
    "feel": ("tired", "happy", "worried", "nervous", "calm", "cheerful", "sleepy", "upset"),
    "light": (
        "evening light", "morning sun", "moonlight", "fog", "rain", "snow", "mist", "golden light",
    ),
    "village": ("the village", "our town", "the old mill", "the farm", "the castle", "the school"),
    "room": ("kitchen", "hall", "bedroom", "living room", "attic", "spare room", "study", "cellar"),
    "sight": (
        "funny hat", "old photo", "tiny puppy", "huge cake", "messy room",
        "strange bill", "broken chair", "bright lights",
    ),
    "dest": ("the station", "the airport", "the harbour", "the hotel", "the corner", "the main gate"),
    "fixable": ("fence", "roof", "gate", "shed", "door", "table", "chair", "window", "shelf"),
    "toox": ("cold", "hot", "wet", "dark", "late", "windy", "icy"),
    "danger": ("busy road", "cliff edge", "river", "railway", "frozen lake", "building site"),
    "sport": ("football", "tennis", "rugby", "hockey", "basketball", "golf", "cricket"),
    "eatery": ("cafe", "restaurant", "hotel", "party", "picnic", "wedding"),
    "vessel": ("mug", "glass", "cup", "flask", "bottle", "jug", "old cup", "empty glass"),
    "drinkadj": ("hot", "cold", "sweet", "strong", "bitter", "warm"),
    "venue": ("cafe", "hotel", "restaurant", "bar", "pub", "town"),
    "spill": ("table", "floor", "carpet", "sofa", "new rug", "kitchen floor"),
    "kadj": ("new", "shiny", "cheap", "small", "large", "red", "blue", "expensive", "old"),
    "kthing": ("window", "radio", "calendar", "bread bin", "plant pot", "back door"),
    "kstate": ("hot", "wet", "greasy", "sticky", "dirty", "warm"),
    "workroom": ("garage", "shed", "barn", "workshop", "cellar"),
    "pet": ("cat", "dog", "puppy", "kitten", "rabbit"),
    "crawl_on": ("kitchen wall", "window", "table", "floor", "ceiling", "door"),
    "yard": ("garden", "yard", "park", "field", "woods"),
    "zooplace": ("the zoo", "the museum", "the aquarium", "the farm", "the nature park", "the wildlife centre"),
    "seaspot": ("old wreck", "rocks", "reef", "pier", "harbour wall", "lighthouse"),
    "size": ("big", "huge", "strange", "small", "long", "odd", "lovely", "ugly"),
    "water": ("deep water", "cold water", "dark water", "murky water", "shallow water", "clear water"),
    "wetness": ("rain", "water", "snow", "dust"),
    "home": ("house", "flat", "cottage", "farmhouse", "holiday home", "new house"),
    "street": ("road", "street", "lane", "path", "avenue", "track"),
    "farmthing": ("farm", "mill", "church", "barn", "bridge"),
    "outbuilding": ("shed", "barn", "garage", "old wall", "church", "school"),
    "byway": ("gate", "fence", "path", "pond", "wall", "road"),
    "paintable": ("door", "fence", "shed", "kitchen", "boat", "gate"),
    "furnishings": ("chairs", "curtains", "lamps", "cups", "walls", "towels"),
    "hall": ("hall", "church", "room", "house", "street", "school"),
    "soundadj": ("wonderful", "a bit sad", "very loud", "so gentle", "beautiful", "strange"),
    "usedadj": ("old", "used", "cheap", "new", "lovely", "antique"),
    "stuff": ("letters", "photos", "coins", "toys", "books", "clothes"),
    "surface": ("kitchen table", "stairs", "sofa", "bed", "floor", "doorstep"),
    "better": ("better", "calmer", "easier", "warmer", "quieter", "happier"),
    "since": ("childhood", "primary school", "a young age", "last summer", "the age of ten"),
    "crowd": ("room", "class", "hall", "audience", "queue", "kitchen"),
    "quiet": ("library", "hospital", "museum", "church", "classroom", "cinema"),
    "group": ("class", "whole school", "guests", "teacher", "family", "crowd"),
    "calm": ("the house", "the town", "the beach", "the office", "the park"),
    "chef": ("my grandmother", "the chef", "our cook", "my father", "a real baker"),
    "deadline": ("the bell rang", "lunch", "the break", "the end of the day", "noon"),
    "subject": ("maths", "history", "science", "English", "art", "music", "geography"),
    "instrument": ("piano", "guitar", "drums", "violin", "trumpet", "flute"),
    "role": ("teacher", "neighbour", "boss", "doctor", "coach", "manager"),
    "kindadj": ("kind", "busy", "friendly", "patient", "popular", "helpful"),
    "outing": ("picnic", "match", "walk", "wedding", "fair", "trip"),
    "touched": ("floor", "table", "handle", "seat", "ground", "path"),
    "dish": ("soup", "sauce", "cake", "bread", "curry", "pie", "melon", "cheese"),
    "partday": ("morning", "evening", "afternoon", "day", "week"),
    "wx": ("warm", "nice", "sunny", "dry", "mild", "cool"),
    "outdoors": ("park", "garden", "field", "playground", "woods", "snow"),
    "bag": ("bag", "coat pocket", "car", "desk drawer", "backpack"),
    "spot": ("door", "window", "bed", "desk", "stairs", "sofa"),
    "spot2": ("room", "hotel", "shop", "garden", "kitchen", "street", "car", "house"),
    "spot3": ("school", "office", "flat", "bus", "library", "cafe"),
    # fillers only
    "hero": ("old king", "young fox", "clever girl", "poor farmer", "brave knight", "tiny mouse", "old woman"),
    "realm": ("a small village", "a castle by the sea", "a dark forest", "a tall tower", "a cottage in the hills"),
    "landmark": ("the station", "the town hall", "the library", "the post office", "the museum", "the nearest bank"),
    "past": ("last summer", "the wedding", "we were at school", "last year", "the party", "the winter"),
    "clock": ("noon", "six o'clock", "half past eight", "a quarter to ten", "midday", "seven"),
}

# ------------------------------------------------------------------------------------------ templates
TEMPLATES: dict[str, tuple[str, ...]] = {
    "animal": (
        "We saw {a} {w} near {place} {time}.",
        "{name} took a photo of the {w} at the zoo.",
        "The {w} looked hungry after the long {season}.",
        "My {kin} has a picture of {a} {w} on the kitchen wall.",
        "{time}, the vet checked the {w} very carefully.",
        "Have you ever seen {a} {w} up close, {name}?",
        "The children watched the {w} eat its dinner {time}.",
        "The {w} hid quickly when {person} came closer.",
        "{name} read a story about a clever {w} to the children.",
    ),
    "bug": (
        "There was {a} {w} crawling on the {crawl_on} {time}.",
        "{name} caught {a} {w} in a glass jar.",
        "Look, there is {a} {w} on your sleeve, {name}!",
        "The children learned all about the {w} {time}.",
        "I found {a} {w} under a stone in the {yard}.",
        "{name} is scared of every {w} in the garden.",
        "We watched the tiny {w} for a while near {place}.",
    ),
    "sea_creature": (
        "We saw {a} {w} in the clear water {time}.",
        "The aquarium in {town} has {a} {w} in its biggest tank.",
        "Divers found {a} {w} near the {seaspot}.",
        "{name} read a book about the {w} and the deep sea.",
        "The fisherman had never seen such {a} {size} {w}.",
        "Look, {name}, there is {a} {w} just under the surface!",
        "The {w} moved slowly through the {water} {time}.",
    ),
    "animal_part": (
        "{name} pointed at the {w} in the picture of the animal.",
        "The guide at {zooplace} told us what the {w} is used for.",
        "The scientist looked at the {w} under a bright lamp {time}.",
        "{name} explained how the {w} helps the animal survive.",
        "{name}'s drawing showed the {w} in great detail.",
        "Look closely at the {w} in this photo, {name}.",
    ),
    "body": (
        "The doctor looked closely at my {w} {time}.",
        "I hurt my {w} while playing {sport} with {name}.",
        "My {w} still aches after the long {journey}.",
        "The nurse asked me to show her my {w} {time}.",
        "There is a strange pain in my {w} {time}.",
        "Keep your {w} still, {name}, while I take the picture.",
    ),
    "food": (
        "Would you like some more {w}, {name}?",
        "The {w} at the {eatery} tasted {taste}.",
        "We bought the {w} at the market {time}.",
        "There is a bit of {w} left in the fridge, {name}.",
        "My {kin} told us not to eat all the {w} before {meal}.",
        "The smell of the {w} filled the kitchen {time}.",
        "{name} put the {w} on the table for the guests.",
        "I made the {w} myself, {name}, so please try it.",
    ),
    "produce": (
        "{name} bought the {w} from the farm shop {time}.",
        "{name} grew the {w} in the garden last {season}.",
        "The {w} at the market looked very fresh {time}.",
        "{name} washed the {w} before cutting it up.",
        "There is a little {w} in this salad, {name}.",
        "My {kin} says {w} is good for you.",
        "The {w} from the shop near {place} was not fresh.",
    ),
    "drink": (
        "{name} poured some {w} into {a} {vessel}.",
        "Would you like some {w} with your {meal}?",
        "This {w} is too {drinkadj} to drink, {name}.",
        "We ran out of {w} at the party {time}.",
        "{name} spilled {w} all over the {spill}.",
        "I always have a little {w} after {meal}.",
        "The {w} in this {venue} is really good.",
    ),
    "kitchen": (
        "{name} washed the {w} after {meal}.",
        "We need a new {w} for the kitchen, {name}.",
        "{name} bought {a} {kadj} {w} at the market.",
        "The {w} is on the shelf next to the {kthing}.",
        "Can you pass me the {w}, {name}?",
        "Be careful, the {w} is still {kstate}.",
        "Who left the {w} in the {room}, {name}?",
        "My {kin} gave us the {w} as a present.",
    ),
    "tool": (
        "{name} borrowed the {w} from {person} {time}.",
        "Put the {w} back in the shed when you finish, {name}.",
        "I need the {w} for the work on the {fixable}.",
        "The {w} was lying on the floor of the {workroom}.",
        "My {kin} keeps the {w} in the corner of the garage.",
        "{name} found the old {w} in the shed {time}.",
        "Be careful with that {w}, it belongs to {person}.",
    ),
    "clothing": (
        "{name} wore {a} {colour} {w} to the {event}.",
        "I can't find my {w} anywhere, {name}.",
        "This {w} was a present from my {kin}.",
        "The {w} felt a little too {fit} on me.",
        "She bought a new {w} for the {event}.",
        "{name} left the {w} in the car {time}.",
        "Your {w} looks really {praise} today, {name}.",
        "The {w} got wet in the rain on the way to {place}.",
        "{name} packed the {w} for the trip to {town}.",
    ),
    "furniture": (
        "We moved the {w} into the {room} {time}.",
        "{name} bought a new {w} for the {room}.",
        "The {w} in the {room} is very old.",
        "Be careful with the {w}, {name}, it is very old.",
        "My {kin} made that {w} many years ago.",
        "Where did you put the {w}, {name}?",
        "Our {pet} likes to sleep next to the {w}.",
    ),
    "house_part": (
        "{name} painted the {w} {colour} {time}.",
        "The {w} was damaged in the storm last {season}.",
        "We fixed the {w} with help from {person}.",
        "The {w} of our {home} needs a lot of work.",
        "{name} was standing near the {w} when the lights went out.",
        "I love the {w} in your new house, {name}.",
    ),
    "building": (
        "We met in front of the {w} {time}.",
        "There is {a} {w} at the end of this {street}.",
        "How do we get to the {w} from here, {name}?",
        "{name} walked past the {w} on the way home {time}.",
        "The old {w} in {town} was built long ago.",
        "They are going to repair the {w} next {season}.",
        "My {kin} used to work at the {w}.",
        "Is the {w} open on {weekday}, {name}?",
    ),
    "landscape": (
        "We hiked all the way to the {w} {time}.",
        "The {w} looked beautiful in the {light}.",
        "{name} took a photo of the {w} from the car.",
        "There is {a} {w} just beyond the old {farmthing}.",
        "Be careful near the {w} when it gets dark, {name}.",
        "The map shows {a} {w} to the north of {village}.",
        "Our {kin} told us a story about the {w} near the village.",
        "We spent the afternoon by the {w} with {name}.",
    ),
    "weather": (
        "We talked about the {w} over breakfast {time}.",
        "The {w} came suddenly on the way to {place}.",
        "Nobody expected the {w} to last so long, {name}.",
        "The radio warned us about the {w} {time}.",
        "The farmers near {village} were worried about the {w}.",
        "The {w} in {town} was much worse than here.",
    ),
    "plant": (
        "{name} watered the {w} in the garden {time}.",
        "The {w} grew quickly in the warm {season}.",
        "We found the {w} growing behind the {outbuilding}.",
        "The {w} in my {kin}'s garden is beautiful.",
        "The {w} needs more sun and water, {name}.",
        "The goat ate the {w} by the {byway}.",
        "{name} cut back the {w} before the {season}.",
    ),
    "vehicle": (
        "{name} drew {a} {w} in art class {time}.",
        "The {w} stopped near {place} to pick us up.",
        "There was {a} {w} waiting for us at {dest}.",
        "The old {w} broke down on the way to {town}.",
        "We travelled by {w} all the way to {town}.",
        "The {w} was full of tourists {time}.",
        "{name} painted the {w} {colour} last {season}.",
        "Is it faster to go by {w} or on foot, {name}?",
    ),
    "sport": (
        "{name} plays {w} every {day}.",
        "We watched {w} on television {time}.",
        "My {kin} taught me how to play {w}.",
        "Are you any good at {w}, {name}?",
        "The {w} club meets near {place} on {weekday}.",
        "{name} has loved {w} since {since}.",
        "Playing {w} with {name} is always fun.",
    ),
    "toy": (
        "{name} got a new {w} as a birthday present.",
        "The kids played with the {w} in {place} {time}.",
        "Don't leave your {w} on the stairs again, {name}.",
        "The dog chewed the {w} {time}.",
        "{name} lost the {w} somewhere near {place}.",
        "My {kin} kept my old {w} in the attic.",
        "Whose {w} is this, {name}?",
    ),
    "music": (
        "{name} is learning to play the {w}.",
        "The sound of the {w} filled the {hall} {time}.",
        "My {kin} used to play the {w} in a band.",
        "I heard someone playing the {w} next door {time}.",
        "{name} practises the {w} every {day}.",
        "The {w} in this song sounds {soundadj}.",
        "We bought {a} {usedadj} {w} for the school band.",
    ),
    "material": (
        "{name} bought some {w} for the project {time}.",
        "This kind of {w} is hard to find in {town}.",
        "The price of {w} went up again {time}.",
        "We need more {w} to finish the job, {name}.",
        "My {kin} works with {w} every day.",
        "There was {w} all over the floor of the {workroom}.",
        "The {w} we ordered from {town} has finally arrived.",
    ),
    "container": (
        "Put the {w} down gently, {name}, it is full.",
        "The {w} was empty when we opened it {time}.",
        "{name} carried the heavy {w} up the stairs.",
        "Who left this {w} on the {surface}, {name}?",
        "We found {a} {w} full of old {stuff} in the attic.",
        "Can you hand me the {w} by the door, {name}?",
        "The {w} is too small for all these {stuff}.",
    ),
    "person": (
        "The {w} waited by the door {time}.",
        "{name} smiled at the {w} across the room.",
        "I met {a} {w} from {town} at the party.",
        "Everyone said the {w} looked {feel} {time}.",
        "The {w} asked us for directions to {place}.",
        "We invited the {w} to stay for {meal}.",
        "The {w} waved to {name} from the other side of the street.",
    ),
    "job": (
        "The {w} arrived early {time}.",
        "{name} has always wanted to become {a} {w}.",
        "My {kin} worked as {a} {w} for many years.",
        "We asked the {w} for some advice {time}.",
        "The local {w} knows everyone in {village}.",
        "The {w} in our town is very {kindadj}.",
    ),
    "time": (
        "It was a long {w} for everyone at {place}.",
        "The {w} went by very quickly for {name}.",
        "{name} still remembers that {w} very clearly.",
        "We will spend the whole {w} at {place}.",
        "I hope the next {w} will be {better}, {name}.",
        "That {w} in {town} was one of the best of my life.",
    ),
    "money": (
        "The {w} was much higher than {name} expected.",
        "We argued about the {w} for an hour with {name}.",
        "{name} checked the {w} twice before signing.",
        "Nobody told us about the {w} until {when}.",
        "The {w} went up again this {season}.",
        "Let's talk about the {w} after {meal}, {name}.",
    ),
    "small_item": (
        "{name} found {a} {w} under the sofa {time}.",
        "I always keep {a} {w} in my {bag}.",
        "The {w} fell out of my bag on the way to {place}.",
        "Have you seen my {w} anywhere, {name}?",
        "The {w} was lying on the floor by the {spot}.",
        "{name} gave me {a} {w} as a souvenir from {town}.",
        "Could you pass me the {w}, please, {name}?",
    ),
    "schoolwork": (
        "The {w} was harder than we expected, {name}.",
        "{name} spent all evening on the {w}.",
        "Our teacher talked about the {w} {time}.",
        "Everyone finished the {w} before {deadline}.",
        "I need some help with the {w}, {name}.",
        "The {w} for {subject} is due on {weekday}.",
    ),
    "device": (
        "My {w} stopped working {time}.",
        "{name} bought a new {w} at a shop in {town}.",
        "Can you fix the {w} before {person} gets home?",
        "The {w} makes a strange noise when it is on, {name}.",
        "We should replace the old {w} soon, {name}.",
        "Who turned off the {w}, {name}?",
        "The {w} in the {room} is broken again.",
    ),
    # verbs: always the base form, after "to", "can", "did", "let's", ...
    "motion": (
        "The children love to {w} in the {outdoors}.",
        "{name} wanted to {w}, but it was too {toox}.",
        "It is not safe to {w} near the {danger}.",
        "My {kin} taught me how to {w} when I was small.",
        "Do you want to {w} with us {later}?",
        "The doctor told {name} not to {w} for a week.",
        "It is fun to {w} when the weather is {wx}.",
    ),
    "body_action": (
        "Try not to {w} during the {event}, {name}.",
        "{name} began to {w} in the middle of the {event}.",
        "I could not help but {w} when I saw the {sight}.",
        "Why did you {w} just now, {name}?",
        "The baby started to {w} {time}.",
        "It is hard not to {w} when {name} tells a joke.",
        "Everyone in the {crowd} began to {w} at once.",
    ),
    "cooking": (
        "Can you help me {w} it before the guests arrive, {name}?",
        "{name} showed me how to {w} it without making a mess.",
        "My {kin} taught me how to {w} it properly.",
        "The recipe says when to {w} it, {name}.",
        "Today we will learn how to {w} it like a real chef, {name}.",
        "I will {w} it while you set the table, {name}.",
        "It takes practice to {w} it the way {chef} does.",
    ),
    "handling": (
        "Please {w} it carefully, {name}.",
        "Watch how I {w} it, {name}, then you try.",
        "{name} forgot to {w} it before leaving for {town}.",
        "I asked my {kin} to {w} it for me {time}.",
        "Why did you {w} it like that, {name}?",
        "Can you {w} it without any help, {name}?",
        "Do not {w} it until I tell you, {name}.",
    ),
    "speech": (
        "We were told not to {w} in the {quiet}.",
        "It is rude to {w} while others are eating, {name}.",
        "The children began to {w} as soon as {person} left.",
        "My {kin} loves to {w} late into the night.",
        "Why do you always {w} so much, {name}?",
        "I was too tired to {w} {time}.",
        "{name} did not want to {w} in front of the {group}.",
    ),
    "sound": (
        "We heard something {w} in the {room} {time}.",
        "Something began to {w} behind the door, {name}.",
        "Did you hear something {w} just now, {name}?",
        "Something outside started to {w} {time}.",
        "{name} lay awake listening to something {w} outside.",
        "{name} waited for it to {w} again, but all was quiet.",
    ),
    "daily": (
        "We usually {w} together on {weekday}.",
        "{name} is too busy to {w} {later}.",
        "Where do you like to {w}, {name}?",
        "I would rather {w} later, {name}, if you don't mind.",
        "Let's {w} together after {meal}, {name}.",
        "It is nice to {w} when {calm} is quiet.",
    ),
    # adjectives: predicative or before a noun they fit
    "size": (
        "I had never seen anything so {w} before, {name}.",
        "It looked so {w} from where we stood {time}.",
        "Why is it so {w}, {name}?",
        "Everything in {town} seemed so {w} to us.",
        "{name} said it was far too {w} for the car.",
        "It was {a} {w} one, {name}, but we liked it.",
    ),
    "colour": (
        "{name} painted the {paintable} {w} {time}.",
        "I think the {w} one looks best, {name}.",
        "{name}'s favourite colour has always been {w}.",
        "We chose {a} {w} carpet for the {room}.",
        "The {w} dress in the window caught {name}'s eye.",
        "Everything in the room was {w}, even the {furnishings}.",
    ),
    "texture": (
        "It felt very {w} when I touched it {time}.",
        "{name} said the thing in the box felt {w}.",
        "Why is the {touched} so {w}, {name}?",
        "Be careful, {name}, it is a bit {w} on this side.",
        "{name} does not like the feel of anything {w}.",
        "I don't like things that are too {w}, {name}.",
    ),
    "weather_adj": (
        "It was {w} all day in {town}.",
        "The weather will be {w} again {later}.",
        "I hope it is not too {w} for the {outing}, {name}.",
        "{name} said it was {w} by the sea {time}.",
        "It gets very {w} here in the {season}.",
        "What {a} {w} morning it is, {name}!",
    ),
    "person_adj": (
        "The {w} man waited by the door {time}.",
        "{name} met {a} {w} woman at the station.",
        "The {w} boy next door plays the {instrument}.",
        "My {kin} looked very {w} in the old photo.",
        "{a} {w} person asked us the way to {place}.",
        "Everyone says {name} looks {w} these days.",
    ),
    "character": (
        "My {kin} has always been very {w}.",
        "{name} is such {a} {w} person.",
        "It was very {w} of {name} to do that.",
        "Nobody thought {name} could be so {w}.",
        "I think the new {role} is quite {w}.",
        "It is not like {name} to be so {w}.",
    ),
    "quality": (
        "The {spot2} looked {w} {time}.",
        "Everything in the {spot2} was {w}.",
        "I thought the new {spot3} was a bit {w}.",
        "It is {a} {w} one, but I like it, {name}.",
        "{name} says the {spot2} in {town} is very {w}.",
        "Why is the {spot2} so {w} today?",
    ),
    "taste": (
        "The {dish} was too {w} for me, {name}.",
        "This {dish} tastes a bit {w}.",
        "{name} does not like food that is too {w}.",
        "The {dish} we bought {time} was very {w}.",
        "Why does this {dish} taste so {w}, {name}?",
        "Is it supposed to be this {w}, {name}?",
    ),
}

# Fillers: ordinary sentences not built around a lexicon word (greetings, plans, small stories).
FILLER_TEMPLATES: tuple[str, ...] = (
    "Good morning, {name}, how are you today?",
    "Thank you so much for your help, {name}.",
    "{name} is coming to visit us {later}.",
    "We are planning a trip to {town} next {season}.",
    "I will call you as soon as I get home, {name}.",
    "Did you sleep well last night, {name}?",
    "The meeting has been moved to {weekday} afternoon.",
    "I have not seen {name} since {past}.",
    "{name} and {friend} went to {town} for the weekend.",
    "It looks like it might rain {later}.",
    "Could you tell me the way to {landmark}, please?",
    "Once upon a time, {a} {hero} lived in {realm}.",
    "Happy birthday, {name}, I hope you have a lovely day!",
    "Please remember to lock the door when you leave, {name}.",
    "Let's go for a walk before it gets dark, {name}.",
    "I'm sorry, {name}, but I can't come to the {event} {later}.",
    "What time does the {event} start on {weekday}?",
    "We had a wonderful time in {town} last {season}.",
    "The shop on the corner closes early on {weekday}.",
    "Nice to meet you, {name}, I have heard a lot about you.",
    "Is it true that {name} is moving to {town}?",
    "See you {later}, {name}, and take care!",
    "Let's meet outside {landmark} at {clock}.",
    "{name} told {friend} a funny story about {past}.",
    "Are you free on {weekday} evening, {name}?",
    "I think {friend} will be late again {later}.",
    "Everyone was very quiet after {name} left the room.",
    "My train to {town} leaves at {clock}.",
)

_SLOT_RE = re.compile(r"\{(\w+)\}")
_ARTICLE_RE = re.compile(r"\{a\} ([A-Za-z][\w'-]*)")
_AN_PREFIXES = ("hour", "honest", "honor", "honour", "heir")  # silent h: an hour, an honest
_A_PREFIXES = ("eu", "ewe", "uni", "ubiq", "uku")  # vowel letter, "y"/"w" sound: a euro, a ewe, a unit
_NOT_A_PREFIXES = ("unid", "unim", "unin")  # un- + i...: an unidentified, an unimportant, an uninvited
_VOWELS = "aeiou"


def indefinite_article(word: str) -> str:
    """The indefinite article for `word`, chosen by its sound: an apple, an hour, an honest, a unicorn,
    a user, a ewe, a one-way, an umbrella, an uncle, a yellow."""
    w = word.strip().lower()
    if not w or not w[0].isalpha():
        raise ValueError(f"need a word that starts with a letter, got {word!r}")
    head = re.split(r"[^a-z]", w)[0]  # one-way -> one
    if head.startswith(_AN_PREFIXES):
        return "an"
    if head in ("one", "once") or (head.startswith(_A_PREFIXES) and not head.startswith(_NOT_A_PREFIXES)):
        return "a"
    if head[0] == "u" and not head.startswith("un"):
        # u + one consonant + vowel is usually a "you" sound: user, usual, utensil, urine, unit;
        # otherwise a plain vowel: umbrella, ugly, urn, usher, udder
        return "a" if len(head) >= 3 and head[1] not in _VOWELS and head[2] in _VOWELS else "an"
    return "an" if head[0] in _VOWELS else "a"


@dataclass(frozen=True)
class Sentence:
    text: str
    word: str | None  # the target word placed in it (None for fillers)
    category: str | None
    kind: str  # "word" or "filler"


def template_slots(template: str) -> list[str]:
    """Names of the list slots in a template, in order (not the target ``w`` nor the article ``a``)."""
    names = []
    for name in _SLOT_RE.findall(template):
        if name not in ("w", "a") and name not in names:
            names.append(name)
    return names


@cache
def _skeletons(templates: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Per template, every distinct filling of its list slots; ``{w}`` and ``{a}`` are left in place.

    Skeletons are deduplicated across the templates of a group (first occurrence kept), so the
    groups together hold distinct strings.
    """
    seen: set[str] = set()
    groups = []
    for template in templates:
        names = template_slots(template)
        group = []
        for combo in itertools.product(*(SLOTS[n] for n in names)):
            values = dict(zip(names, combo, strict=True))
            text = _SLOT_RE.sub(lambda m, v=values: v.get(m.group(1), m.group(0)), template)
            if text not in seen:
                seen.add(text)
                group.append(text)
        groups.append(tuple(group))
    return tuple(groups)


def _finish(skeleton: str, word: str | None) -> str:
    text = skeleton if word is None else skeleton.replace("{w}", word)
    text = _ARTICLE_RE.sub(lambda m: f"{indefinite_article(m.group(1))} {m.group(1)}", text)
    return text[0].upper() + text[1:]


def _pick(groups: Sequence[Sequence[str]], n: int, rng: random.Random) -> list[str]:
    """Up to `n` skeletons, spread over the templates: round-robin over a shuffled template order,
    each template contributing its own random sample."""
    order = list(range(len(groups)))
    rng.shuffle(order)
    pools = [rng.sample(groups[i], min(n, len(groups[i]))) for i in order]
    out: list[str] = []
    for k in range(max((len(p) for p in pools), default=0)):
        for pool in pools:
            if k < len(pool):
                out.append(pool[k])
                if len(out) == n:
                    return out
    return out


def _entry(word: str):
    try:
        return LEXICON[word]
    except KeyError:
        raise KeyError(
            f"{word!r} is not in the lexicon (w2s.corpus.lexicon.LEXICON, {len(LEXICON)} words); "
            "only lexicon words have sentence templates"
        ) from None


def sentences_for_word(word: str, n: int, seed: int) -> list[Sentence]:
    """`n` distinct sentences containing `word` in a context that fits its category.

    Fewer than `n` only when the word's templates cannot make that many (`max_distinct_sentences`).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    entry = _entry(word)
    rng = random.Random(f"w2s.sentences|{seed}|{word}")
    out, seen = [], set()
    for skeleton in _pick(_skeletons(TEMPLATES[entry.category]), n, rng):
        text = _finish(skeleton, word)
        if text not in seen:
            seen.add(text)
            out.append(Sentence(text, word, entry.category, "word"))
    return out


def filler_sentences(n: int, seed: int) -> list[Sentence]:
    """`n` distinct filler sentences (fewer only if the filler templates cannot make that many)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"w2s.fillers|{seed}")
    return [Sentence(_finish(s, None), None, None, "filler") for s in _pick(_skeletons(FILLER_TEMPLATES), n, rng)]


def generate_sentences(words: Iterable[str], per_word: int, n_filler: int, seed: int) -> list[Sentence]:
    """Sentences for every word (`per_word` each) followed by `n_filler` fillers, without duplicates.

    Words are taken in sorted order (so a set gives the same result in every process), each word's
    sentences in the order `sentences_for_word` returns them, then the fillers.
    """
    out: list[Sentence] = []
    seen: set[str] = set()
    batches = [sentences_for_word(w, per_word, seed) for w in sorted(set(words))]
    batches.append(filler_sentences(n_filler, seed))
    for batch in batches:
        for s in batch:
            if s.text not in seen:
                seen.add(s.text)
                out.append(s)
    return out


def max_distinct_sentences(words: Iterable[str]) -> int:
    """How many distinct sentences the templates can make for these words, all together."""
    return sum(sum(len(g) for g in _skeletons(TEMPLATES[_entry(w).category])) for w in set(words))


def max_filler_sentences() -> int:
    return sum(len(g) for g in _skeletons(FILLER_TEMPLATES))

