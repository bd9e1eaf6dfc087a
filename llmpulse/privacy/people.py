"""Person names and street addresses, offline, without a language model.

Names: runs of capitalised words are checked against two lists built from the ``names-dataset`` package
(MIT licence; the most common given names and surnames of 58 countries, see ``data/ATTRIBUTION.md``) and
the words around them. A run counts as a person's name when

* a title comes first ("Mr", "Dr", "Frau", "Mme", "Sr.", "Dhr."): the run after the title;
* an introduction or a greeting comes first ("my name is", "je m'appelle", "Dear", "Hallo", "Thanks,") or a
  closing line ("Best regards,", "Viele Grüße") stands on the line before, and it starts with a given name
  or is a surname;
* it starts with a given name and ends with a surname ("Sarah Miller"), or has a surname particle
  ("Daan de Vries");
* it is a single given name inside a sentence ("for my colleague Tom"), not one of the given names that are
  also common words or products ("May", "Will", "Grace", "Claude", "Julia", "Ruby").

Addresses: a street (house number then street name with a street word, "221B Baker Street",
"12 rue de la Paix"; or street name then number, "Hauptstraße 12", "Calle Mayor 5", "Keizersgracht 123",
"Via Roma 10"; or a PO box), then what follows it directly: a flat or unit, a city, a state and ZIP code, a
postcode and city ("10115 Berlin", "1015 CJ Amsterdam", "London NW1 6XE"). The span runs from the house
number or street to the postcode or city, as one entity, even across a line break.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path

from llmpulse.privacy.entity import ADDRESS, PERSON, Entity, lower_same_length
from llmpulse.privacy.shape import Shape, shape_of

DATA = Path(__file__).resolve().parent / "data"
#: the name-list sizes the cross-validation chooses among (given names kept per country)
NAME_LIST_SIZES = (250, 500, 1000, 2000)
DEFAULT_NAMES_PER_COUNTRY = 1000
SURNAMES_PER_COUNTRY = 2000


def _key(word: str) -> str:
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\u2019", "'")


@lru_cache(maxsize=8)
def _names(file: str, limit: int) -> frozenset[str]:
    with (DATA / file).open(encoding="utf-8", newline="") as handle:
        return frozenset(_key(row["name"]) for row in csv.DictReader(handle) if int(row["best_rank"]) <= limit)


# Given names that are also common words, places, products or assistants: a name only with a surname.
_AMBIGUOUS = frozenset(
    _key(w)
    for w in (
        "May", "Will", "June", "April", "August", "Grace", "Hope", "Faith", "Joy", "Mark", "Bill", "Art", "Rose",
        "Summer", "Max", "Page", "Chase", "Ray", "Jordan", "Georgia", "Paris", "Florence", "Victoria", "Austin",
        "Dallas", "Sydney", "Chelsea", "Madison", "Lincoln", "Washington", "Jackson", "Angel", "Jesus",
        "Christian", "Eve", "Frank", "Guy", "Sunny", "Sky", "Star", "Dawn", "Pearl", "Ruby", "Julia", "Ada",
        "Crystal", "Claude", "Alexa", "Siri", "Gemini", "Jean", "Don", "Sage", "Honey", "Lady", "King", "Prince",
        "Baby", "Bob", "Rich", "Young", "Long", "Love", "Sol", "Luz", "Blanca", "Rosa", "Mercedes", "Porsche",
        "Dior", "Chanel", "Tesla", "Elle", "Mai", "Jan", "Mars", "Nova", "Aurora", "Iris", "Lily", "Daisy",
        "Ivy", "Holly", "Olive", "Amber", "Jade", "Coral", "Autumn", "Winter", "River", "Brook", "Rain", "Storm",
        "Hunter", "Archer", "Cooper", "Mason", "Carter", "Parker", "Tyler", "Taylor", "Spencer", "Dean", "Earl",
        "Duke", "Miles", "Lane", "Wade", "Reed", "Cash", "Price", "Worth", "Major", "General", "Harmony",
        "Destiny", "Trinity", "Genesis", "Unity", "Justice", "Liberty", "Patience", "Prudence", "Constance",
        "Felicity", "Serenity", "Echo", "Phoenix", "Apollo", "Atlas", "Zeus", "Thor", "Loki", "Odin", "Diana",
        "Venus", "Juno", "Luna", "Sterling", "Sonny", "Happy", "Lucky", "Dusty", "Rocky", "Buddy", "Bear",
        "Fox", "Wolf", "Hawk", "Robin", "Wren", "Lark", "Dove", "Drew", "Gene", "Said", "Ali", "Amin", "Noor",
        "Nur", "Hu", "He", "Ma", "Mo", "An", "Le", "La", "Lo", "Bo", "So", "Do", "Ok", "Tu", "Il", "Dr",
        "Kafka", "Spring", "Rust", "Go", "Swift", "Dart", "Elixir", "Pascal", "Ada", "Julia", "Alexandria",
        "Santiago", "Lourdes", "Carmen", "Dolores", "Mercy", "Berlin", "London", "Madrid", "Roma", "Milan",
        "Valencia", "Sevilla", "Granada", "Toledo", "Lima", "Quito", "Florida", "Carolina", "Virginia",
        "Indiana", "Montana", "Nevada", "Dakota", "Cheyenne", "Regina", "Adelaide", "Darwin", "Hobart", "Perth",
        "Brisbane", "Kingston", "Hamilton", "Wellington", "Nelson", "Chester", "Preston", "Stanley", "Clifton",
        "Ashley", "Kent", "Devon", "Cornwall", "Essex", "Lorraine", "Normandie", "Savoie", "Provence", "Vienna",
        "Nancy", "Orleans", "Run", "Adrian", "Edge", "Chrome", "Safari", "Opera", "Vista", "Echo", "Alpha", "Beta",
        "Delta", "Sigma", "Omega", "Monday", "Friday", "Sunday", "Tuesday", "Wednesday", "Thursday", "Saturday",
    )
)  # fmt: skip
# A run that starts with one of these is a place or an organisation ("New York", "San Francisco").
_PLACE_PREFIXES = frozenset(
    _key(w)
    for w in ("San", "Santa", "Santo", "São", "Saint", "St", "Sankt", "New", "Los", "Las", "Port", "Fort", "Mount",
              "Lake", "North", "South", "East", "West", "Central", "United", "Great", "Royal", "Bad", "Frankfurt",
              "Visual", "Google", "Apple", "Amazon", "Microsoft", "Apache", "Azure", "Golden", "Spring", "Deutsche",
              "Banco", "Bank", "Hotel", "Club", "Real", "Atletico", "Universidad", "University", "Lago", "Monte",
              "Puerto", "Rio", "Cabo", "Isla", "Costa", "Villa", "Ciudad", "Gemini", "Claude", "Llama",
              "Mistral", "Grok", "Copilot", "Cortana", "Alexa", "Siri", "Jupyter", "Hugging")
)  # fmt: skip
# Nationalities, languages and places that are also given names somewhere.
_PLACES = frozenset(
    _key(w)
    for w in ("German", "English", "French", "Dutch", "Spanish", "Italian", "American", "British", "Indian",
              "Chinese", "Japanese", "Irish", "Scottish", "Welsh", "Swiss", "Austrian", "Belgian", "Polish",
              "Turkish", "Greek", "Russian", "Brazilian", "Mexican", "Canadian", "Australian", "European",
              "African", "Asian", "Latin", "Arabic", "Hindi", "Dublin", "Lisboa", "Lisbon", "London", "York",
              "Paris", "Berlin", "Madrid", "Rome", "Roma", "Milano", "Amsterdam", "Rotterdam", "Brussels", "Vienna",
              "Wien", "Zurich", "Geneva", "Munich", "München", "Hamburg", "Köln", "Cologne", "Lyon", "Marseille",
              "Barcelona", "Sevilla", "Porto", "Boston", "Chicago", "Seattle", "Denver", "Phoenix", "Houston",
              "Atlanta", "Miami", "Orlando", "Toronto", "Vancouver", "Montreal", "Sydney", "Melbourne", "Tokyo",
              "Osaka", "Beijing", "Shanghai", "Delhi", "Mumbai", "Bangalore", "Chennai", "Dubai", "Cairo", "Lagos",
              "Nairobi", "Leeds", "Manchester", "Liverpool", "Bristol", "Glasgow", "Edinburgh", "Oxford",
              "Cambridge", "Springfield", "Lille", "Nantes", "Toulouse", "Bordeaux", "Strasbourg",
              "Montpellier", "Rennes", "Grenoble", "Utrecht", "Eindhoven", "Bilbao", "Malaga", "Zaragoza",
              "Europe", "America", "Asia", "Africa", "Israel", "Jordan", "Chad",
              "Georgia", "India", "China")
)  # fmt: skip
# Capitalised words that never start a person's name in running text.
_NOT_NAMES = frozenset(
    _key(w)
    for w in (
        "San", "Santa", "Saint", "St", "Sankt", "New", "Los", "Las", "El", "Port", "Fort", "Mount", "Lake",
        "North", "South", "East", "West", "Central", "United", "Great", "Royal", "Visual", "Google", "Apple",
        "Amazon", "Microsoft", "Apache", "Azure", "Golden", "Silver", "Dear", "Hi", "Hello", "Hey", "Thanks",
        "Thank", "Best", "Kind", "Regards", "Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "Herr", "Herrn", "Frau",
        "Madame",
        "Monsieur", "Mme", "Mlle", "Sr", "Sra", "Srta", "Sig", "Dott", "Dhr", "Mevr", "The", "This", "That",
        "And", "Or", "But", "If", "When", "What", "Why", "How", "Who", "Where", "Please", "Can", "Could",
        "Would", "Should", "Is", "Are", "Do", "Does", "Did", "My", "Our", "Your", "His", "Her", "Their", "Its",
        "I", "I'm", "I'd", "I'll", "I've", "We", "You", "He", "She", "They", "It", "A", "An", "In", "On", "At",
        "To", "For", "From", "With",
        "By", "Of", "As", "Via", "Calle", "Rue", "Avenue", "Street", "Road", "Patient", "Customer", "Client",
        "Senior", "Junior", "Head", "Chief", "Lead", "Principal", "Account", "Manager", "Director", "Engineer",
        "Officer", "President", "Vice", "Assistant", "Associate", "Executive", "Consultant", "Analyst",
        "First", "Last", "Full", "Middle", "Created", "Updated", "Order", "Orders", "Customers", "Users",
        "Cliente", "Kunde", "Kundin", "Klant", "Paciente", "Employee", "Applicant", "Author", "Candidate",
        "Team", "Support", "Sales", "Service", "Services", "Group", "Inc", "Ltd", "GmbH", "AG", "SA", "LLC",
        "University", "College", "School", "Hospital", "Bank", "Hotel", "Airport", "Station", "Park", "Bridge",
        "Castle", "Church", "Museum", "Center", "Centre", "Tower", "House", "Hall", "Library", "Office",
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep",
        "Sept", "Oct", "Nov", "Dec", "Department", "Ministry", "Court", "Council", "Committee", "Board", "Project",
        "Product", "Version",
        "Release", "Chapter", "Section", "Table", "Figure", "Note", "Step", "Error", "Warning", "Info", "Debug",
        "True", "False", "None", "Null", "Yes", "No", "Ok", "Okay", "Bonjour", "Hola", "Hallo", "Ciao", "Salut",
        "Liebe", "Lieber", "Cher", "Chère", "Estimado", "Estimada", "Caro", "Cara", "Gentile", "Beste", "Olá",
        "Merci", "Danke", "Gracias", "Grazie", "Obrigado", "Obrigada", "Bedankt", "Cheers", "Viele", "Grüße",
        "Mit", "Cordialement", "Saludos", "Atentamente", "Cordiali", "Saluti", "Atenciosamente", "Groeten",
        "Met", "Ask", "Tell", "Write", "Send", "Call", "Email", "Mail", "Summarise", "Summarize", "Translate",
        "Draft", "Explain", "Compare", "Check", "Use", "Set", "Get", "Let", "Make", "Find", "Show", "Give",
    )
)  # fmt: skip
_NOT_NAMES_AS_WRITTEN = frozenset(w.capitalize() for w in _NOT_NAMES)
_PARTICLES = frozenset(
    {"de", "van", "der", "den", "von", "di", "da", "del", "della", "dos", "das", "du", "le", "la", "bin", "ibn",
     "ter", "ten", "zu", "y", "e"}
)  # fmt: skip
_TITLE_WORDS = frozenset(
    {"mr", "mrs", "ms", "mx", "miss", "dr", "prof", "professor", "herr", "herrn", "frau", "madame", "monsieur",
     "mme", "mlle", "m", "sr", "sra", "srta", "sig", "sig.ra", "signor", "signora", "dott", "dhr", "mevr", "mw",
     "sir", "dame", "don", "doña", "dona", "señor", "señora", "senhor", "senhora"}
)  # fmt: skip
# Words right before a name: introductions, greetings, thanks, and nouns for people.
_CUES = frozenset(
    {"my name is", "my name's", "i'm", "i am", "this is", "named", "called", "mein name ist",
     "ich heiße", "ich bin", "je m'appelle", "je suis", "moi c'est", "me llamo", "mi nombre es", "soy",
     "mi chiamo", "sono", "meu nome é", "me chamo", "sou", "mijn naam is", "ik ben", "ik heet", "dear", "hi",
     "hello", "hey", "hallo", "liebe", "lieber", "sehr geehrte", "sehr geehrter", "bonjour", "salut", "cher",
     "chère", "hola", "estimado", "estimada", "querido", "querida", "ciao", "caro", "cara", "gentile", "olá",
     "oi", "beste", "thanks", "thank you", "danke", "merci", "gracias", "grazie", "obrigado", "obrigada",
     "bedankt", "colleague", "coworker", "co-worker", "manager", "boss", "tenant", "landlord", "patient",
     "candidate", "customer", "client", "employee", "user", "guest", "student", "teacher", "doctor", "nurse",
     "wife", "husband", "son", "daughter", "mother", "father", "brother", "sister", "friend", "neighbour",
     "neighbor", "kollege", "kollegin", "collègue", "compañero", "compañera", "collega", "paciente",
     "patientin", "paziente", "cliente", "kunde", "kundin", "klant", "titulaire", "kontoinhaber", "applicant",
     "author", "from", "to", "cc", "contact", "signed", "regards"}
)  # fmt: skip
_CLOSING_WORDS = frozenset(
    {"regards", "best", "cheers", "thanks", "sincerely", "grüße", "grüßen", "gruß", "cordialement", "vous",
     "saludos", "atentamente", "abrazo", "saluti", "atenciosamente", "abraços", "groeten", "groet"}
)  # fmt: skip
# Words after which a lone given name is a person ("ask Tom", "meeting with Priya").
_LONE_CUES = frozenset(
    {"ask", "asked", "tell", "told", "remind", "ping", "cc", "message", "text", "email", "thank", "invite",
     "congratulate", "with", "to", "from", "for", "and", "by", "frag", "sag", "schreib", "mit", "für", "von",
     "à", "avec", "pour", "de", "a", "con", "para", "per", "met", "voor", "van"}
)  # fmt: skip
_PREFIX_SPLIT = re.compile(r"[\s\"{}\[\]:;,=()<>]+")
_PUNCTUATION = ".,:;!?\"'()[]{}<>-=\u2019\u201c\u201d"
_UPPER = "A-ZÀ-ÖØ-ÞĀ-Ž"
_LOWER = "a-zß-öø-ÿā-ž\u1e00-\u1eff"  # with Latin Extended Additional (Vietnamese: "Nguyễn")
_CAP_WORD = (
    rf"[{_UPPER}](?:[{_LOWER}]+(?:['\u2019](?:[{_UPPER}][{_LOWER}]+|[{_LOWER}]{{2,}}))?|['\u2019][{_UPPER}][{_LOWER}]+)"
    rf"(?:[{_UPPER}][{_LOWER}]+)?(?:-[{_UPPER}]?[{_LOWER}]+)*"
)
# Runs of capitalised words, one space apart, surname particles allowed inside ("Daan de Vries"). The
# "not inside a longer token" look-behind sits after the first letter, so the engine skips to capitals.
_RUN = re.compile(
    rf"[{_UPPER}](?<![\w@./#$'\u2019-][{_UPPER}]){_CAP_WORD[len(_UPPER) + 2 :]}"
    rf"(?: (?:[{_UPPER}]\. )?(?:(?:{'|'.join(sorted(_PARTICLES))}) ){{0,2}}{_CAP_WORD}){{0,5}}(?![\w@])"
)
_RUN_WORD = re.compile(rf"{_CAP_WORD}|[{_UPPER}]\.|[{_LOWER}]+")
# "Smith, John" (lists, CSV): a surname, a comma, a given name, then the end of the field.
_INVERTED = re.compile(
    rf"[{_UPPER}](?<![\w@./#$-][{_UPPER}]){_CAP_WORD[len(_UPPER) + 2 :]}, ({_CAP_WORD})(?=[,;\t\n)]|$)"
)
# Two words in capitals ("JOHN SMITH"): a name when a given name and a surname.
# (Both look-behinds sit after the first capital, so the engine skips to capitals.)
_CAPS_NAME = re.compile(r"([A-Z](?<![A-Z] [A-Z])(?<![\w@./#$-][A-Z])[A-Z]+) ([A-Z]{2,})(?![\w@]| [A-Z])")
# An initial (or two) and a capitalised word: "J. Okafor" (a name when the word is a surname)
_INITIAL_SURNAME = re.compile(
    rf"[A-Z](?<![\w.'\u2019-][A-Z])\. ?(?:[A-Z]\. ?)?({_CAP_WORD})(?![\w@]| [{_UPPER}][{_LOWER}])"
)
# A name written in small letters after an introduction ("my name is john smith") or, given name and surname
# both, after a weaker cue ("this is maria garcia", "soy ana lópez", "ping ravi iyer"). One search, over the
# lower-cased text with line breaks, tabs, quotes and brackets read as spaces: the pattern starts with a space, so
# the engine tries the cues only after one (about as fast as a few substring searches). The cues share their first
# letters; the name is looked at, not taken, so that a cue right after another is tried too ("hi, this is ...").
_SMALL_WORD = "[a-zß-öø-ÿā-ž\u1e00-\u1eff]{2,}"
_SMALL_CUE = re.compile(
    r" (?:(m(?:y name(?: is|'s)|e llamo|e chamo|ein name ist|ijn naam is|i chiamo|eu nome é)|i(?:'m| am|ch heiße)|"
    r"call me|je m'appelle)|t(?:his is|ell|hanks)|s(?:oy|ono)|je suis|i(?:k ben|ch bin)|ping|ask|h(?:i|ello|ey)|dear)"
    rf"[,:]?(?=\s+({_SMALL_WORD}(?: {_SMALL_WORD}){{0,2}}))"
)
# Small words that are also on the name lists ("great", "done", "day"): not a name when written in small letters.
_SMALL_STOP = frozenset(
    {"great", "good", "done", "day", "fine", "sure", "here", "there", "back", "time", "work", "team", "test", "data",
     "code", "user", "new", "best", "well", "right", "just", "still", "only", "more", "man", "see", "run", "sue",
     "pat", "rob", "nick", "jack", "said", "so", "ok", "yes", "no", "not", "all", "the", "and", "you", "guys",
     "folks", "everyone", "again", "also", "very", "really", "glad", "happy", "sorry", "about", "from", "with",
     "for", "to", "in", "on", "at", "is", "was", "are", "be", "can", "could", "would", "should", "may", "might",
     "must", "will", "shall", "need", "want", "have", "has", "had", "do", "does", "did", "get", "got", "going",
     "looking", "trying", "calling", "writing", "here's", "what", "how", "why", "when", "where", "who", "which",
     "that", "this", "these", "those", "it", "its", "me", "my", "we", "our", "us", "them", "they"}
)  # fmt: skip
# A lone given name that starts a sentence counts when a verb follows ("Tom said ...").
_VERB_AFTER = re.compile(
    r"['\u2019]s\b|\s+(?:said|says|asked|asks|wrote|writes|told|tells|thinks|wants|needs|mentioned|replied|called|sent|"
    r"will|would|can|could|should|is|was|has|had|and I|and me|from)\b"
)
# Keys and form labels whose value is a name.
_NAME_FIELDS = frozenset(
    {"first_name", "firstname", "first name", "last_name", "lastname", "last name", "surname", "given_name",
     "givenname", "family_name", "familyname", "full_name", "fullname", "vorname", "nachname", "prénom", "prenom",
     "nom", "nombre", "apellido", "apellidos", "cognome", "achternaam", "voornaam", "sobrenome"}
)  # fmt: skip
_INITIAL_AFTER = re.compile(r" [A-Z]\.(?= |$|,|\n)")
# Companies and products named like people.
_NOT_PEOPLE = frozenset(
    {"morgan stanley", "wells fargo", "dr pepper", "tim hortons", "goldman sachs", "charles schwab",
     "johnson johnson", "ernst young", "marks spencer", "ben jerry's", "hewlett packard", "rolls royce",
     "harley davidson", "mercedes benz", "louis vuitton", "calvin klein", "ralph lauren", "tommy hilfiger",
     "hugo boss", "estée lauder", "dow jones", "warner bros", "walt disney", "procter gamble", "jack daniels",
     "ronald mcdonald", "john deere", "martin luther king"}
)  # fmt: skip
_CODE_EDGE = frozenset("._/\\@#$[]{}`*")


def _capitalised(word: str) -> bool:
    return (word[0].isupper() and not word.isupper()) or (len(word) == 1 and word.isupper())


_SURNAME_PREFIX = re.compile(r"(?:o'|d'|mc|mac|fitz|al-|el-)[^\W\d_]{2}")


def _is_surname(key: str, surnames: frozenset[str]) -> bool:
    return (
        key in surnames
        or ("-" in key and any(part in surnames for part in key.split("-") if len(part) > 1))
        or _SURNAME_PREFIX.match(key) is not None
    )


class NameFinder:
    """Person names; ``names_per_country`` is how many of each country's most common given names count."""

    __slots__ = ("_given", "_surnames")

    def __init__(self, names_per_country: int = DEFAULT_NAMES_PER_COUNTRY) -> None:
        self._given = _names("given_names.csv", names_per_country)
        self._surnames = _names("surnames.csv", SURNAMES_PER_COUNTRY)

    def __call__(self, text: str) -> list[Entity]:
        return self.capitalised(text) + self.small_letters(text)

    @staticmethod
    def may_hold_capitals(shape: Shape) -> bool:
        """``capitalised`` needs an ASCII capital or a non-ASCII letter (``_UPPER`` has some small ones)."""
        return shape.has(b"A", b"u")

    def capitalised(self, text: str) -> list[Entity]:
        """Names in capitalised words ("Sarah Miller"), in capitals ("JOHN SMITH"), inverted ("Smith, John")."""
        return self.runs(text) + self.in_capitals(text) + self.after_initials(text) + self.inverted(text)

    def runs(self, text: str) -> list[Entity]:
        """Names in runs of capitalised words ("Sarah Miller", "Dr. Weber")."""
        found: list[Entity] = []
        for m in _RUN.finditer(text):
            word = m.group()
            if word in _NOT_NAMES_AS_WRITTEN:
                continue  # "The", "Please": most runs are one sentence-initial word
            if " " not in word:
                key = _key(word)
                if key not in self._given and not _is_surname(key, self._surnames):
                    continue  # a lone word on no list: not a name even after a title
            run = [(w.start() + m.start(), w.end() + m.start()) for w in _RUN_WORD.finditer(m.group())]
            entity = self._judge(text, run)
            if entity is not None:
                found.append(entity)
        return found

    def in_capitals(self, text: str) -> list[Entity]:
        """ "JOHN SMITH" in forms."""
        found: list[Entity] = []
        for m in _CAPS_NAME.finditer(text):
            first, last = m.group(1).lower(), m.group(2).lower()
            known = first in self._given and first not in _AMBIGUOUS and first.capitalize() not in _NOT_NAMES_AS_WRITTEN
            if known and last in self._surnames and last not in _PLACES:
                found.append(Entity(PERSON, m.start(), m.end()))
        return found

    def after_initials(self, text: str) -> list[Entity]:
        """ "J. Okafor", "A. M. Schulz"."""
        found: list[Entity] = []
        for m in _INITIAL_SURNAME.finditer(text):
            key = _key(m.group(1))
            if (_is_surname(key, self._surnames) and key not in _PLACES and key not in _NOT_NAMES
                    and key not in _AMBIGUOUS and key not in _PLACE_PREFIXES):  # fmt: skip
                found.append(Entity(PERSON, m.start(), m.end()))
        return found

    def inverted(self, text: str) -> list[Entity]:
        """ "Smith, John" lines: lists and tables."""
        return self._inverted(text) if ", " in text and "\n" in text else []

    def _inverted(self, text: str) -> list[Entity]:
        found: list[Entity] = []
        for m in _INVERTED.finditer(text):
            surname, given = _key(text[m.start() : m.start(1) - 2]), _key(m.group(1))
            if (
                surname in self._surnames
                and surname not in _PLACES
                and given in self._given
                and given not in _AMBIGUOUS
                and given not in _PLACES
            ):
                found.append(Entity(PERSON, m.start(), m.end()))
        return found

    def small_letters(self, text: str) -> list[Entity]:
        """A name in small letters after an introduction or a cue (capitalised ones are runs)."""
        found: list[Entity] = []
        lowered = text if text.islower() else text.lower()
        if len(lowered) != len(text):
            lowered = lower_same_length(text)
        for sign in ("\n", "\t", "\r", '"', "("):
            if sign in lowered:
                lowered = lowered.replace(sign, " ")
        # a space before the text: a cue that starts it has one too (offsets move by one)
        for m in _SMALL_CUE.finditer(" " + lowered):
            start = m.start(2) - 1
            if text[start].islower():
                end = self._small_name_end(m.group(2).split(" "), surname_needed=m.group(1) is None)
                if end:
                    found.append(Entity(PERSON, start, start + end))
        return found

    def _small_name_end(self, words: list[str], surname_needed: bool) -> int:
        """How many characters of ``words`` (joined by spaces) are a name in small letters: a given name, then
        given names or surnames (up to three words); 0 when none, or when ``surname_needed`` and no surname
        follows the given name."""
        keys = [_key(w) for w in words]
        if keys[0] not in self._given or keys[0] in _AMBIGUOUS or keys[0] in _SMALL_STOP:
            return 0
        taken = 1
        while (
            taken < len(keys)
            and keys[taken] not in _SMALL_STOP
            and keys[taken] not in _AMBIGUOUS
            and (_is_surname(keys[taken], self._surnames) or (taken + 1 < len(keys) and keys[taken] in self._given))
        ):
            taken += 1
        if surname_needed and (taken == 1 or not _is_surname(keys[taken - 1], self._surnames)):
            return 0
        return len(" ".join(words[:taken]))

    def _judge(self, text: str, run: list[tuple[int, int]]) -> Entity | None:
        keys = [_key(text[s:e]) for s, e in run]
        if keys[0] in _PLACE_PREFIXES:
            return None
        # drop leading words that cannot start a name ("Dear", "Thanks", "Patient", "Write")
        while keys and (keys[0] in _NOT_NAMES or keys[0] in _PARTICLES):
            run, keys = run[1:], keys[1:]
        while keys and (keys[-1] in _NOT_NAMES or keys[-1] in _PARTICLES):
            if keys[-1] not in _PARTICLES and len(keys) > 2 and keys[-2] in _PARTICLES:
                break  # the name after a particle ("Nguyễn Văn An", "Anna van Der"): not an article
            run, keys = run[:-1], keys[:-1]
        if not run or len(run) > 4 or keys[0] in _PLACE_PREFIXES:
            return None
        start, end = run[0][0], run[-1][1]
        before, after = text[max(0, start - 1) : start], text[end : end + 1]
        if (before and before in _CODE_EDGE) or (after and after in "(=_/\\`[]{}"):
            return None  # an identifier in code
        first, last = keys[0], keys[-1]
        given, surnames = self._given, self._surnames
        known_first = first in given and first not in _AMBIGUOUS and first not in _PLACES
        if len(run) == 1 and not known_first and not _is_surname(first, surnames):
            if first in _PLACES:
                return None
            solo = True  # only a title can make it a name ("Frau Weber")
        else:
            solo = False
        if len(run) == 1 and known_first:
            initial = _INITIAL_AFTER.match(text, end)
            if initial is not None:
                return Entity(PERSON, start, initial.end())  # "Sarah K."
        prefix = text[max(0, start - 40) : start]
        stripped = prefix.rstrip()
        words = [w for w in (t.strip(_PUNCTUATION) for t in _PREFIX_SPLIT.split(stripped.lower())[-6:]) if w][-4:]
        previous = words[-1] if words else ""
        if " ".join(k for k in keys if k not in _PARTICLES) in _NOT_PEOPLE or f"{previous} {first}" in _NOT_PEOPLE:
            return None
        if previous in _TITLE_WORDS and stripped.lower().endswith((previous, ".")):
            return Entity(PERSON, start, end)
        if solo or (len(run) == 1 and first in _PLACES):
            return None
        phrases = {" ".join(words[-k:]) for k in range(1, len(words) + 1)}
        # a closing line: "Best regards,\nAnna", or "Best, Anna" ending its line
        closing = previous in _CLOSING_WORDS and (
            "\n" in prefix[len(stripped) :] or (stripped.endswith(",") and text[end : end + 1] in ("", "\n"))
        )
        labelled = previous in ("name", "naam", "nom", "nombre", "nome") and stripped.rstrip("\"'").endswith((":", "="))
        cue = closing or labelled or not phrases.isdisjoint(_CUES)
        if cue and (known_first or (len(run) > 1 and _is_surname(first, surnames))):
            return Entity(PERSON, start, end)
        if len(run) == 2 and known_first and keys[1] not in _PLACES and keys[1] not in _PLACE_PREFIXES:
            return Entity(PERSON, start, end)  # a known given name and any capitalised word: "Priya Raghunathan"
        if 2 <= len(run) <= 3 and first in given and text[end : end + 1] in ("", "\n", '"'):
            return Entity(PERSON, start, end)  # a name ending its line: an address block, a signature
        if len(run) >= 2 and first in given:
            surname = _is_surname(last, surnames)
            particle = any(k in _PARTICLES or (len(k) == 2 and k[1] == ".") for k in keys)  # "de", "J."
            if surname or (particle and known_first):
                return Entity(PERSON, start, end)
            return None
        if len(run) == 1 and previous in _NAME_FIELDS and first not in _PLACES:
            return Entity(PERSON, start, end)  # {"first_name": "Lukas", "last_name": "Braun"}
        if len(run) == 1 and known_first and (cue or previous in _LONE_CUES or _VERB_AFTER.match(text, end)):
            return Entity(PERSON, start, end)  # "ask Tom", "for my colleague Tom", "Tom said"
        return None


# --- addresses ---------------------------------------------------------------------------------

_CAP = r"[A-ZÀ-ÖØ-Þ][\w'\u2019-]*"
_EN_STREET = (
    r"Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|Lane|Ln\.?|Drive|Dr\.?|Boulevard|Blvd\.?|Court|Ct\.?|Way|Place|Pl\.?|"
    r"Terrace|Parkway|Pkwy\.?|Square|Sq\.?|Close|Crescent|Highway|Hwy\.?|Circle|Cir\.?|Trail|Row|Walk|Gardens|"
    r"Grove|Mews|Broadway|Alley|Plaza|Loop|Pike|Turnpike|Expressway|Freeway|Path|Cove|Crossing|Commons|Green"
)
_FR_STREET = (
    r"rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|cours|route|square|passage|esplanade|promenade|"
    r"cité|villa|sentier|parvis|voie|montée|ruelle|traverse"
)
_ROMANCE_STREET = (
    r"Rue|Avenue|Boulevard|Chaussée|Place|Calle|C/|Avenida|Avda\.?|Av\.|Paseo|Plaza|Pza\.?|Carrer|Camino|Ronda|Traves[ií]a|Via|Viale|Piazza|P\.za|"
    r"Corso|Largo|Vicolo|Rua|Travessa|Praça|Alameda|Estrada|Rambla|Glorieta|Avinguda|Passeig|Plaça|Travessera|"
    r"Carretera|Ctra\."
)
_GERMANIC_SUFFIX = (
    r"straße|strasse|str\.?|weg|allee|platz|gasse|ring|damm|ufer|chaussee|steig|pfad|markt|"
    r"straat|laan|gracht|plein|kade|singel|dijk|steeg|hof|park|dreef|pad|wal|schans"
)
# a house number: "12", "221B", "45 a", "7-9", "263-267", "12-14" (also with an en dash), "12-II" (a Dutch floor),
# "12hs", "123-H" (Dutch); a letter after it stands on its line and is no country's prefix of a postcode
# ("Bahnhofstraße 12\nD-01067 Dresden")
_HOUSE = (
    r"\d{1,5}(?:[ \t]?(?:hs|huis)(?![\w])|[ \t]?[A-Za-z](?![\w]|-\d))?(?:[-/\u2013]\d{1,4}[A-Za-z]?)?"
    r"(?:-(?:I{1,3}|IV|hs|huis|[A-Z])(?![\w]))?"
)
_STREET = re.compile(
    rf"(?<![\w/.-])(?:"
    # a highway or route as the street ("10550 Hwy 290 W"): before the other shapes, which would stop at "Hwy"
    rf"(?P<en>{_HOUSE},?\s+(?:(?:State|US|U\.S\.|County)\s+)?(?:Highway|Hwy\.?|Route)\s+\d{{1,4}}[A-Z]?"
    rf"(?:\s+(?:N|S|E|W|North|South|East|West)(?![\w]))?(?![\w])"
    rf"|(?:(?:Flat|Apt\.?|Apartment|Unit|Suite|Ste\.?)\s*#?\w{{1,5}}(?:/\w{{1,3}})?,?\s+"
    rf"(?:(?:{_CAP}\s+){{1,2}}(?:Court|House|Mansions|Lodge|Tower|Building|Apartments|Hall|Heights),?\s+)?)?"
    rf"{_HOUSE},?\s+"
    rf"(?:(?:N|S|E|W)\.?\s+)?(?:{_CAP}\s+|\d{{1,3}}(?:st|nd|rd|th)\s+){{1,4}}?(?:{_EN_STREET})(?![\w])"
    rf"(?:\s+(?:N|S|E|W|NE|NW|SE|SW)(?![\w]))?"
    rf"|{_HOUSE}\s+(?:(?!(?:the|a|an|to|of|and|down|up|on|in|at|my|our)\s)[a-z]{{2,}}\s+){{1,3}}"
    rf"(?:street|avenue|road|lane|drive|boulevard|court|place|terrace|st|ave|rd|ln|dr|blvd)\.?"
    rf"(?=(?:,?\s*(?:apt|unit|suite|#)\s*#?\w{{1,5}})?,\s*[a-z]{{3,}}))"
    rf"|(?P<fr>(?:(?i:Appt?\.?|Appartement|Bât\.?|Bâtiment|Esc\.?|Escalier)\s*[\w-]{{1,5}},?\s+)?"
    rf"\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+(?i:{_FR_STREET})\s+[^\W\d][^,\n\d]{{1,40}}?(?=\s*[,\n]|\s+\d{{4,5}}\s|$|\.\s))"
    rf"|(?P<ro>(?:{_ROMANCE_STREET}|c/)\s+(?:(?:de|del|de la|de las|de los|di|della|delle|dei|da|do|dos|das|la|el)\s+)*"
    rf"{_CAP}(?:\s+{_CAP}){{0,3}},?\s+(?:n[º°.]\s*)?{_HOUSE}(?![\w]))"
    rf"|(?P<ge>(?:(?:Am|An der|Auf der|Im|In der|Zum|Zur|Alte|Neue|Alter|Neuer|Große|Kleine|Obere|Untere|"
    rf"Hinter der|Bei der|Unter den|{_CAP}) +)?{_CAP}?(?:{_GERMANIC_SUFFIX})\s+{_HOUSE}(?![\w])"
    rf"|{_CAP}(?:\s+|-)(?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm|Ufer|Chaussee|"
    rf"Markt|Plein|Straat|Laan|Kade|Gracht|Singel|Dijk)\s+{_HOUSE}(?![\w])"
    rf"|(?:Straße|Strasse|Platz|Allee|Weg|Ring|Damm|Ufer|Chaussee)\s+(?:des|der|dem|den)\s+(?:\d{{1,2}}\.\s+)?"
    rf"{_CAP}(?:\s+{_CAP})?\s+{_HOUSE}(?![\w]))"
    rf"|(?P<pc>{_CAP}(?:[ -](?:(?:den|der|de|la|le|van|von) )?{_CAP}){{0,2}}\s+{_HOUSE}"
    rf"(?=,?\s+(?:\d{{4}}\s?[A-Z]{{2}}|\d{{5}})\s+[A-Z]))"
    # a box number, or one in pairs ("Postfach 10 20 30")
    rf"|(?P<box>(?:P\.?\s?O\.?\s?Box|Post Office Box|Postfach|Apartado(?: de correos)?|Case postale|BP)\s+"
    rf"(?:\d{{2}}(?:\s\d{{2}}(?!\d)){{1,3}}|\d{{1,6}}))"
    rf")"
)
_UNIT = re.compile(
    r",?\s*(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Floor|Fl\.?|Room|Wohnung|Whg\.?|Etage|appartement|apt|"
    r"piso|planta|puerta|interno|int\.|scala|andar|apto\.?|appt\.?|app\.|bus|bât\.?|bâtiment|esc\.|escalier)"
    r"\s*#?\s*[\w-]{1,5}(?:/\w{1,3})?"
    r"|,?\s*\d{1,2}\.\s?(?:OG|UG|DG|EG|Obergeschoss|Etage|Stock)(?:\s(?:links|rechts|Mitte|li\.|re\.))?(?![\w])"
    r"|,?\s*(?:Hinterhaus|Vorderhaus|Seitenflügel|Gartenhaus|Hochparterre|Souterrain|bajo|ático|entresuelo|entlo\."
    r"|pral\.|principal)(?:\s[A-Z](?![\w]))?(?![\w])"
    r"|,?\s*\d{1,2}[rnt]\s?\d{1,2}[aª](?![\w])"  # Catalan floor and door: "3r 2a"
    r"|,?\s*\d{1,3}(?:st|nd|rd|th)\s+(?:Floor|Fl\.?)(?![\w])"  # "34th Floor"
    r"|,?\s*#\s?\d{1,5}[A-Za-z]?"
    r"|,?\s*\d{1,2}\.?\s?[º°ª]\s?(?:[A-Z]|\d{1,2}\s?[ºª]?)?(?:\s?(?:izq(?:da)?|izquierda|dcha|der(?:echa)?|dch)\.?)?"
    r"(?:\s(?:planta|piso))?(?![\w])"
)
# a city's words stand on one line ("80121 Napoli\nYou can ..." ends at "Napoli")
_CITY = rf"{_CAP}(?:[^\S\n](?:am|an|der|im|in|de|del|la|le|sur|upon|on)?[^\S\n]?{_CAP}){{0,3}}"
_US_STATES = (
    r"Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|"
    r"Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|Mississippi|"
    r"Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota|"
    r"Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|"
    r"Virginia|Washington|West Virginia|Wisconsin|Wyoming"
)
# Between the parts: a comma or line break (also an escaped "\n" inside a JSON string), a dash before a postcode,
# a middle dot, bullet or bar (a letterhead's "Lindenstraße 14 · 50674 Köln"), or white space.
_TAIL = re.compile(
    r"(?:\s*(?:[,\n]|\\n)\s*|\s+[-\u2013]\s+(?=\d)|\s+[\u00b7\u2022|]\s+|\s+)(?:"
    rf"(?:{_CITY})(?:,\s*|\s+)[A-Z]{{2,3}},?\s+\d{{4,5}}(?:-\d{{4}})?"  # Springfield, IL 62704 / Sydney NSW 2000
    rf"|{_CITY},\s+(?:{_US_STATES})\s+\d{{5}}(?:-\d{{4}})?"  # Springfield, Illinois 62704
    rf"|\d{{4}}\s?[A-Z]{{2}}\s+{_CITY}"  # 1015 CJ Amsterdam
    rf"|\d{{4}}-\d{{3}}\s+{_CITY}"  # 1100-053 Lisboa
    rf"|(?:[A-Z]{{1,2}}-)?\d{{4,5}}\s+{_CITY}(?:(?<=[Cc]edex|CEDEX)\s\d{{1,2}}(?![\w]))?"  # 10115 Berlin, D-10115
    # Berlin, 75002 Paris Cedex 02
    rf"|(?:{_CITY}\s+)?[A-Z]{{1,2}}\d[A-Z\d]?\s?\d[A-Z]{{2}}(?![\w])"  # London NW1 6XE
    rf"|(?:{_CITY}),?\s+[A-Z]{{2}}\s+[A-Z]\d[A-Z]\s?\d[A-Z]\d(?![\w])"  # Toronto, ON M5H 2N2
    rf"|{_CITY}\s*[-\u2013]\s*[A-Z]{{2}}(?:,?\s*\d{{5}}-\d{{3}})?(?![\w])"  # São Paulo - SP, 01310-200
    rf"|{_CITY}(?=\s*(?:[,.;)!?]|\n|$)|\s+[a-z])"  # a city alone, up to punctuation or a small word
    r"|[a-z]{3,}(?=\s*[,.;!?]|$)(?<=[a-z])"  # a small-letter city after a small-letter street
    r")"
)
_COUNTRY = re.compile(
    r",\s*(?:Germany|Deutschland|France|Spain|España|Italy|Italia|Netherlands|Nederland|the Netherlands|UK|"
    r"United Kingdom|USA|United States|Canada|Portugal|Brasil|Brazil|Belgium|Belgique|België|Austria|Österreich|"
    r"Switzerland|Schweiz|Suisse|Ireland|Australia|India)(?![\w])"
)
# A city in small letters after a street in small letters and a comma (not a small word that goes on the sentence).
_SMALL_CITY = re.compile(
    r",\s*(?:(?:new|san|los|las|santa|fort|saint|st)\s)?"
    r"(?!(?:and|or|but|so|then|the|please|thanks|thank|near|next|which|where|with|for|from|to|that|this|it|its|"
    r"i|we|you|he|she|they|just|also|not|right|left|opposite|behind|apt|unit|suite|flat)(?![a-z]))[a-z]{3,}(?![\w])"
)
_PROVINCE = re.compile(r" ?\([A-Z]{2}\)")  # "20127 Milano (MI)"
_STATE_ZIP = re.compile(r"(?:,\s*|\s+)[A-Z]{2,3},?\s+\d{4,5}(?:-\d{4})?(?![\w])")
# A house number or PO box number: 1-5 digits standing alone ("12", "221B", "45a", "7-9").
_HOUSE_NUMBER = re.compile(
    r"\d(?<![\w.,:/+-]\d)\d{0,4}(?:\s?(?:hs|huis)|\s?[A-Za-z])?(?:[-/\u2013]\d{1,4}[A-Za-z]?)?(?![\w:]|[.,]\d)"
)


_STREET_WORDS = frozenset(
    w.lower().rstrip(".")
    for w in (_EN_STREET + "|" + _FR_STREET + "|" + _ROMANCE_STREET + "|box|postfach|apartado|postale")
    .replace("\\.", "")
    .replace("?", "")
    .replace("[ií]", "i")
    .split("|")
)
_STREET_SUFFIXES = (*_GERMANIC_SUFFIX.replace("\\.?", "").replace("\\.", ".").split("|"), "str")


def _has_street_word(text: str) -> bool:
    """A street word ("Street", "rue", "Calle"), a capitalised word with a street ending ("Hauptstraße",
    "Keizersgracht"), or a postcode and city after a comma: only then are the street patterns tried."""
    # each distinct token once: the answer does not depend on the order
    return any(map(_is_street_token, set(text.split()))) or _POSTCODE_CITY.search(text) is not None


def _is_street_token(token: str) -> bool:
    """A street word or a capitalised word with a street ending, up to a backslash (in a JSON string, an escaped
    line break may follow it: "500 Market St\\nSan Francisco"), or between commas without a space ("addr=12 Oak
    Lane,Dover,DE 19901" in a log line)."""
    return any(map(_is_street_word, token.split("\\", 1)[0].split(",")))


def _is_street_word(piece: str) -> bool:
    word = piece.strip(".,;:()\"'")
    lowered = word.lower()
    return lowered in _STREET_WORDS or (word[:1].isupper() and lowered.endswith(_STREET_SUFFIXES))


_TOKEN = re.compile(r"\S+")  # what str.split() splits a text into: \s and str.split() share one whitespace test
_LAST_TOKEN = re.compile(r"\S+\Z")


class _StreetTokens:
    """``_has_street_word(text[a:b])`` for many windows of one text, each distinct token checked once: a window's
    tokens are the text's tokens inside it and the cut pieces of the (at most two) tokens across its edges."""

    __slots__ = ("_ends", "_starts", "_text")

    def __init__(self, text: str, street: set[str]) -> None:
        self._text = text
        self._starts: list[int] = []
        self._ends: list[int] = []
        if street:
            for m in _TOKEN.finditer(text):
                if m.group() in street:
                    self._starts.append(m.start())
                    self._ends.append(m.end())

    def in_window(self, a: int, b: int) -> bool:
        text = self._text
        i = bisect_left(self._starts, a)  # the first street token starting in the window: inside it?
        if i < len(self._starts) and self._ends[i] <= b:
            return True
        window = text[a:b]
        if a > 0 and not text[a - 1].isspace() and not text[a].isspace():  # a token cut by the window's start
            first = _TOKEN.match(window)
            if first is not None and _is_street_token(first.group()):
                return True
        if b < len(text) and not text[b - 1].isspace() and not text[b].isspace():  # cut by its end
            last = _LAST_TOKEN.search(window)
            if last is not None and _is_street_token(last.group()):
                return True
        return _POSTCODE_CITY.search(window) is not None


_POSTCODE_CITY = re.compile(r"\d(?:(?<=[,\n] \d)|(?<=[,\n]\d))(?:\d{3}\s?[A-Z]{2}|\d{3,4})\s+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]")


def _may_hold_postcode(shape: Shape) -> bool:
    """``_POSTCODE_CITY`` has four digits in a row and a capital (ASCII or not)."""
    return shape.digits(4) and shape.has(b"A", b"u")


def may_hold_address(shape: Shape) -> bool:
    """Every address is found around a house or box number (``\\d`` here is any Unicode digit)."""
    return shape.digits(1)


def find_addresses(text: str) -> list[Entity]:
    """Streets are searched only around short numbers (house numbers, PO boxes): most text has few."""
    found: list[Entity] = []
    street = {token for token in set(text.split()) if _is_street_token(token)}
    if not street and (not _may_hold_postcode(shape_of(text)) or _POSTCODE_CITY.search(text) is None):
        return found  # _has_street_word(text), keeping the street tokens
    searched_to = 0
    streets: _StreetTokens | None = None
    for number in _HOUSE_NUMBER.finditer(text):
        if number.end() <= searched_to:
            continue
        start = max(searched_to, number.start() - 64)
        window_end = min(len(text), number.end() + 120)
        streets = streets if streets is not None else _StreetTokens(text, street)
        if not streets.in_window(start, min(window_end, number.end() + 48)):
            continue  # no street word near this number
        for m in _STREET.finditer(text, start, window_end):
            if m.start() > number.end():
                break
            if m.end() == window_end < len(text):
                continue  # cut by the window: not a whole match
            entity = _address_at(text, m)
            if entity is not None:
                found.append(entity)
                searched_to = entity.end
                break
        searched_to = max(searched_to, number.end())
    return found


def _address_at(text: str, m: re.Match[str]) -> Entity | None:
    end = m.end()
    unit = _UNIT.match(text, end)
    if unit is not None:
        end = unit.end()
    # up to two tail parts: "Springfield, IL 62704", "10115 Berlin", ", London NW1 6XE"
    street_end = end
    for _ in range(2):
        tail = _TAIL.match(text, end)
        if tail is None or (tail.group().islower() and not m.group().islower()):
            break  # a city in small letters goes only with a street in small letters ("Amsterdam graag")
        end = tail.end()
        zip_code = _STATE_ZIP.match(text, end)
        if zip_code is not None:
            end = zip_code.end()
            break
        if any(c.isdigit() for c in tail.group()):
            province = _PROVINCE.match(text, end)
            end = province.end() if province is not None else end
            country = _COUNTRY.match(text, end)
            end = country.end() if country is not None else end
            break  # a postcode ends the address (or the country after it)
    if m.lastgroup == "box" and end == street_end:
        return None  # a PO box without a city is no address
    if end == street_end and m.group().islower():
        city = _SMALL_CITY.match(text, end)  # "55 maple st apt 2, columbus and ..."
        end = city.end() if city is not None else end
    return Entity(ADDRESS, m.start(), end)
