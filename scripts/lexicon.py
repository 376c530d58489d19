"""Build classifier/text/lexicon.tsv from Unicode CLDR's emoji annotations (scripts/lexicon runs it).

    python scripts/lexicon.py CLDR_ANNOTATIONS_DIR

CLDR_ANNOTATIONS_DIR is the npm package cldr-annotations-full (its annotations/<locale>/annotations.json
and LICENSE). Every animal emoji becomes a row named by its English name (its English name in CLDR, with
" face" dropped and a few renamed, so 🐱 and 🐈 are one row, cat). Each language gives the row the
catalogs' names of the default animals and the few added by hand (EXTRA), then the emoji's name unless
it names a face (морда лисицы), then its keywords that are single words, less the ones in GENERIC
(traits, parts, food, the zodiac: not an animal's name). Names are compared as the bot compares labels
(classifier.text.lexicon.normal). A name two rows give at the same priority is dropped (крыса is a
keyword of the mouse and the rat; Spanish gamba and Portuguese gambá are one name), and so is another
row's English name. Rows without a name in every language are left out. Both lists go to stderr.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifier.text.lexicon import LANGUAGES, LEXICON_FILE, NAME_SEPARATOR, normal  # noqa: E402

LOCALES = {"ru": "ru", "uk": "uk", "es": "es", "pt": "pt"}  # CLDR's pt is Brazilian, like the catalog
CATALOGS = ROOT / "bot" / "words" / "locales"
NOTICE_FILE = LEXICON_FILE.with_name("lexicon-LICENSE.txt")

# Unicode's animal subgroups (mammal, bird, amphibian, reptile, marine, bug) by first code point.
ANIMAL_CODES = {*range(0x1F400, 0x1F440), 0x1F54A, 0x1F577, *range(0x1F980, 0x1F9AF),
                *range(0x1FAB0, 0x1FAB4), 0x1FABC, 0x1FABF, 0x1FACD, 0x1FACE, 0x1FACF}
NOT_ANIMALS = {"🐽", "🐾", "🦠", "🐚"}  # pig nose, paw prints, microbe, spiral shell
RENAMED = {"spouting whale": "whale", "hatching chick": "chick", "baby chick": "chick",
           "front-facing baby chick": "chick", "honeybee": "bee", "lady beetle": "ladybug", "ewe": "sheep",
           "bug": "caterpillar", "rhinoceros": "rhino", "hippopotamus": "hippo"}
# Keywords that are not an animal's name: traits, parts, sounds, food, places, signs of the zodiac, kinds
# of animal, and animals the emoji's keywords lend it (a cheetah for the leopard).
GENERIC: dict[str, str] = {
    "ru": """обезьянья примат человекоподобная человекоподобный собачья слепой поводырь поиск поисковая порода
        волчья лисья любопытный кошачья мяу несчастье неудача плохая примета черная грива тигриная гепард
        лошадиная скаковая скачки рогатый упрямый сказочное зебры полосатая полоски черно-белая грация стадо як
        коровья му молоко телец бекон пятачок сало свинина дикий клыки овен ягнятина козерог копытное руно пятна
        пятнистый шея хобот бивень вымирание мохнатый предок мордочка домашнее орех грызть зубы плотина иголка
        колючий колючки вампир летучая бурый лень медленный спать играть ловить вонь вонючка вонять фу скакать
        сумка сумчатое сумчатые носуха благодарение благодарения гребешок вылупился желтый яйцо маленький
        антарктика мир полет преданность чистота водоплавающее мудрость вымерший маврикий розовый тропическая
        тропический веер красивый перья цветной говорить говорящий пират врановый каркать глупый гогот
        гоготать дичь возрождение восстать заново реинкарнация зеленый рептилия опасность яд змееносец фентези
        рекс брызги черно-белый экзотическая беспозвоночное ожог ой ужалить маленькая ракообразные жемчуг
        жемчужина нырять устричный ползти красота многоножка сороконожка желто-черная мед клоп божья коровка сад
        цикада мерзкий вирус кровосос лихорадка малярия укус зараза личинка эвкалипт моллюск ракушка""",
    "uk": """людиноподібна антропоїд примат допомога службовий супровід вовча лисича лисяча цікавий шибеник коша
        мяу невдаха невдача нещастя верхогони кінні перегони скачки упертий упертюх смуга стадо худоба молоко му
        телець овен козеріг одногорбий сахара двогорбий караван плями бивень волохатий сафарі хом’якова боброва
        бобровидні гребля гризти зубатий зуби голчастий колючий колючки вампір ведмедева ведмежача арктичний
        білий полярний ледачий лінивий млявий повільний грайливий рибалка смердіти сморід тхнути австралія
        стрибати стрибок сумка сумчастий сумчасті торбун куницеві мустелові великдень вилуплюватися
        новонароджений прокльовуватися анфас орнітологія літати мир озеро безсоння мудрість ніч пізно
        маврикійський рожевий тропіки зарозумілий кольоровий красива фазан хвалькуватий хвіст балакучий
        розмовляє пірат дзьоб дрізд каркати бешкет га галас зграя клин птиця відродження оживлення ожити
        оновлення перевтілення повстати слава фантастика болото жабʼяча плазун рептилія казка обличчя фонтан
        плавець безхребетний опік щупальці біск клешні морепродукти морепродукт молюск перли перлина устричний
        петрик гарний комаха комашина комашка корівка кукарача вірус гарячка малярія укус гниль дзижчання крила
        личинка наживка казковий змієносець мушля""",
    "es": """guía ciego invidente apoyo asistencia servicio astuto curioso ladino maquillaje ojeras leo ecuestre
        asta cuernos terco raya bambi bovino cabestro tauro aries capricornio caprino joroba jorobas lana manchas
        colmillo lanudo espinas púas vampiro ártico blanco polar gandul lento vago bromista juguetón apestar
        hedor peste tufo saltar salto huevo paz extravangante ostentoso orgulloso plumas hablar pirata graznar
        reencarnación renacer cuento piscis pescado concha espiral caracola invertebrado picadura picar cáncer
        pinzas buceo perla bonito bicho antenas miel cochinilla alimaña plaga escorpio fiebre malaria virus
        basura podrido parásito oruga agua globo mauricio bicho""",
    "pt": """acessibilidade accessibilidade cega cego cegueira guia labrador assistência serviço astuto curioso
        travesso azar miado miau onça equino corrida equestre chifres galhada rena animais relinchar relincho
        teimosa teimoso listra listras rebanho leite muuu áries chifre capricórnio presa lanoso pré-histórico
        dentuço represa espinhoso vampiro ártico branco devagar lenta lentidão preguiçosa preguiçoso brincalhona
        fedida fedido fedor austrália joey pula pulo salto incomodar bebê chocando fihote antartica frio paz
        sabedoria extravagante colorido orgulhoso pomposo fala pirata repete bico passarinho bobo grasno marreco
        imortal reemergir reencarnação reencarnar reincarnação renascer renascimento reviver transformação
        esguicho marinho pescar concha ai aquário ferrão invertebrado marinha queimadura tentáculos câncer
        bisque caldo garras crustáceo mergulho pérola beleza inseto centopeia natureza nojento nojo amarela
        chicungunha dengue febre malária vírus zica aedes aegypti apodrecendo larva anelídeo parasita maurício água
        primata""",
}
# An emoji's name with one of these words names a face, not the animal (морда лисицы, cara de tigre).
FACE_WORDS = {"ru": {"морда", "голова"}, "uk": {"морда", "голова", "обличчя", "рило"}, "es": {"cara", "cabeza"},
              "pt": {"rosto", "cara", "cabeça"}}
# Names added by hand, taken like the catalogs': a word CLDR gives only to another emoji's keywords or to
# two emoji at once, and the diminutives classifier/text/language.py knows.
EXTRA: dict[str, dict[str, tuple[str, ...]]] = {
    "ru": {"polar bear": ("белый медведь",), "camel": ("верблюд",)},
    "uk": {"cat": ("кішка", "кошеня"), "camel": ("верблюд",), "rat": ("пацюк",), "chick": ("курча",),
           "bird": ("пташка",), "duck": ("качечка",), "mouse": ("мишка",), "fish": ("рибка",), "pig": ("свинка",),
           "dog": ("цуценя",)},
    "es": {"caterpillar": ("oruga",), "camel": ("camello",), "dog": ("perrito",), "chicken": ("pollo",),
           "cat": ("gatito",), "bear": ("osito",), "duck": ("patito",), "pig": ("cerdito",)},
    "pt": {"cat": ("gata",), "bird": ("passarinho",), "dog": ("cão", "cachorrinho"), "duck": ("patinho",),
           "pig": ("porquinho",), "bear": ("ursinho",), "frog": ("rã",)},
}
HEADER = """\
# Common animals' names and the English name an English-only model reads them by (classifier/text/lexicon.py).
# Built by scripts/lexicon from Unicode CLDR {version} emoji annotations (npm cldr-annotations-full) and the
# catalogs' default animals (bot/words/locales). CLDR data: Copyright © Unicode, Inc., under the Unicode
# License v3 (lexicon-LICENSE.txt beside this file). Columns: the English name, then each language's names,
# separated by ', ', the most common first. Edit the script's lists and rebuild; do not edit this file.
"""


def read_annotations(cldr: Path, locale: str) -> dict[str, dict[str, list[str]]]:
    path = cldr / "annotations" / locale / "annotations.json"
    found: dict[str, dict[str, list[str]]] = json.loads(path.read_text(encoding="utf-8"))["annotations"]["annotations"]
    return found


def is_animal(emoji: str) -> bool:
    skin_tone = re.search("[\U0001F3FB-\U0001F3FF]", emoji)
    return ord(emoji[0]) in ANIMAL_CODES and emoji not in NOT_ANIMALS and not skin_tone


def english_name(tts: str) -> str:
    name = tts.lower().removesuffix(" face")
    return RENAMED.get(name, name)


def catalog_animals(language: str) -> dict[str, str]:
    """The default animals' names in a language's catalog: {English: name}."""
    text = (CATALOGS / language / "LC_MESSAGES" / "toonclip.po").read_text(encoding="utf-8")
    return dict(re.findall(r'msgctxt "animal"\nmsgid "([^"]+)"\nmsgstr "([^"]+)"', text))


Candidate = tuple[int, str, str, str]  # (priority: 0 the catalog's or added by hand, 1 the emoji's name,
#                                         2 a keyword; the row's English name; the language; the name)


def candidates(cldr: Path, emoji_rows: dict[str, str]) -> list[Candidate]:
    """Every name each language gives each row, with its priority."""
    found: list[Candidate] = []
    for language, locale in LOCALES.items():
        found += [(0, row, language, name) for row, name in catalog_animals(language).items()]
        found += [(0, row, language, name) for row, extra in EXTRA[language].items() for name in extra]
        generic = {normal(word) for word in GENERIC[language].split()}
        local = read_annotations(cldr, locale)
        for emoji, row in emoji_rows.items():
            entry = local.get(emoji, {})
            for tts in entry.get("tts", []):
                face = FACE_WORDS[language] & set(tts.lower().split())
                if not face and not {",", "\t"} & set(tts) and normal(tts) not in generic:
                    found.append((1, row, language, tts.lower()))
            for keyword in entry.get("default", []):
                if " " not in keyword and normal(keyword) not in generic:
                    found.append((2, row, language, keyword.lower()))
    return found


def owners(found: list[Candidate], english_names: set[str]) -> dict[str, str]:
    """Which row each name (by its normal form) belongs to: the one row that gives it the best priority.
    A name two rows give at its best priority belongs to none, nor does another row's English name."""
    best: dict[str, tuple[int, set[str]]] = {}
    for priority, row, _, name in found:
        key = normal(name)
        seen = best.get(key)
        if seen is None or priority < seen[0]:
            best[key] = (priority, {row})
        elif priority == seen[0]:
            seen[1].add(row)
    owner = {}
    for key, (_, rows) in sorted(best.items()):
        row = next(iter(rows))
        if len(rows) > 1:
            print(f"dropped: '{key}' names {', '.join(sorted(rows))}", file=sys.stderr)
        elif key not in english_names or key == normal(row):
            owner[key] = row
    return owner


def build(cldr: Path) -> tuple[list[tuple[str, dict[str, list[str]]]], str]:
    """The rows (English name, {language: names}) with a name in every language, and CLDR's version."""
    english = read_annotations(cldr, "en")
    emoji_rows = {emoji: english_name(entry["tts"][0]) for emoji, entry in english.items() if is_animal(emoji)}
    order = list(dict.fromkeys(emoji_rows.values()))
    found = sorted(candidates(cldr, emoji_rows), key=lambda candidate: candidate[0])
    owner = owners(found, {normal(row) for row in order})
    names: dict[str, dict[str, list[str]]] = {row: {language: [] for language in LANGUAGES} for row in order}
    for _, row, language, name in found:
        key = normal(name)
        if owner.get(key) == row and key not in {normal(n) for n in names[row][language]}:
            names[row][language].append(name)
    for row in order:
        if not all(names[row].values()):
            print(f"left out: {row} {names[row]}", file=sys.stderr)
    version = json.loads((cldr / "package.json").read_text(encoding="utf-8")).get("version", "?")
    return [(row, names[row]) for row in order if all(names[row].values())], version


def write(rows: list[tuple[str, dict[str, list[str]]]], version: str, cldr: Path) -> None:
    lines = [HEADER.format(version=version), "\t".join(("en", *LANGUAGES))]
    for row, names in rows:
        for language in LANGUAGES:
            for name in names[language]:
                if "\t" in name or "," in name:
                    raise SystemExit(f"The name {name!r} ({row}, {language}) holds a tab or a comma.")
        lines.append("\t".join((row, *(NAME_SEPARATOR.join(names[language]) for language in LANGUAGES))))
    LEXICON_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    NOTICE_FILE.write_text(
        "classifier/text/lexicon.tsv holds data from Unicode CLDR's emoji annotations (npm package "
        f"cldr-annotations-full {version}), under this licence:\n\n" + (cldr / "LICENSE").read_text(encoding="utf-8"),
        encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    cldr = Path(argv[1])
    rows, version = build(cldr)
    write(rows, version, cldr)
    counts = ", ".join(f"{language} {sum(len(names[language]) for _, names in rows)}" for language in LANGUAGES)
    print(f"{LEXICON_FILE.relative_to(ROOT)}: {len(rows)} animals; names: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
