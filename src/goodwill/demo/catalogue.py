"""The sample business: a small tea merchant, its products, staff and the people who buy from it."""

from __future__ import annotations

BUSINESS_NAME = "Juniper & Pine Tea Merchants"

# (name, sku, price in cents)
PRODUCTS: list[tuple[str, str, int]] = [
    ("Darjeeling first flush, 100 g", "TEA-DAR-100", 1850),
    ("Assam breakfast, 250 g", "TEA-ASS-250", 1290),
    ("Sencha Uji, 100 g", "TEA-SEN-100", 2100),
    ("Ceremonial matcha, 30 g", "TEA-MAT-030", 3200),
    ("Jasmine silver needle, 50 g", "TEA-JAS-050", 2750),
    ("Rooibos vanilla, 150 g", "TEA-ROO-150", 990),
    ("Earl Grey with cornflower, 200 g", "TEA-EGR-200", 1400),
    ("Oolong Tie Guan Yin, 100 g", "TEA-OOL-100", 2400),
    ("Chamomile & lavender, 80 g", "TEA-CHA-080", 890),
    ("Blue glazed teapot, 0.8 l", "POT-BLU-080", 5400),
    ("Cast-iron kettle, 1 l", "POT-IRN-100", 7900),
    ("Glass infuser mug", "MUG-GLS-001", 2200),
    ("Bamboo matcha whisk set", "ACC-WHK-001", 2900),
    ("Seasonal gift box", "GFT-SEA-001", 4500),
    ("Tasting flight: six origins", "GFT-TST-006", 3600),
    ("Loose-leaf starter kit", "GFT-STR-001", 3900),
]

FIRST_NAMES = [
    "Amelia",
    "Oliver",
    "Sofía",
    "Mateo",
    "Zoë",
    "Noah",
    "Léa",
    "Hugo",
    "Chloé",
    "Lucas",
    "Ingrid",
    "Lars",
    "Aoife",
    "Seán",
    "Priya",
    "Arjun",
    "Ananya",
    "Rohan",
    "Chiamaka",
    "Emeka",
    "Amara",
    "Kwame",
    "Fatima",
    "Omar",
    "Layla",
    "Yusuf",
    "Hana",
    "Kenji",
    "Yuki",
    "Haruto",
    "Mei",
    "Wei",
    "José",
    "María",
    "Lucía",
    "Andrés",
    "Élodie",
    "François",
    "Björn",
    "Åsa",
    "Zofia",
    "Jakub",
    "Grace",
    "Henry",
    "Margaret",
    "Samuel",
    "Eleanor",
    "Thomas",
    "Nora",
    "Felix",
    "Ruth",
    "Daniel",
    "Beatriz",
    "João",
    "Ines",
    "Tomás",
    "Siobhan",
    "Declan",
    "Olga",
    "Dmitri",
    "Aylin",
    "Emre",
]
LAST_NAMES = [
    "Smith",
    "García",
    "Müller",
    "Dubois",
    "Rossi",
    "O'Connor",
    "Nakamura",
    "Okafor",
    "Haddad",
    "Kowalski",
    "Andersson",
    "Patel",
    "Sharma",
    "Chen",
    "Kim",
    "Nguyen",
    "Silva",
    "Fernández",
    "Lefèvre",
    "Schröder",
    "Johansson",
    "Murphy",
    "Adeyemi",
    "Mensah",
    "Yilmaz",
    "Ivanova",
    "Brown",
    "Wilson",
    "Taylor",
    "Clarke",
    "Moreau",
    "Novák",
    "Horváth",
    "Costa",
    "Santos",
    "Walsh",
]
# Whole names kept as written in their own script, to show Goodwill keeps them intact.
NATIVE_NAMES = ["王芳", "李伟", "佐藤 花子", "김민준", "Ελένη Παπαδοπούλου", "Дарья Смирнова"]

CITIES = [
    ("Portland", "OR", "97205", "US", "America/Los_Angeles"),
    ("Brooklyn", "NY", "11215", "US", "America/New_York"),
    ("Austin", "TX", "78704", "US", "America/Chicago"),
    ("Denver", "CO", "80206", "US", "America/Denver"),
    ("Toronto", "ON", "M5V 2T6", "CA", "America/Toronto"),
    ("London", "", "N1 7GU", "GB", "Europe/London"),
    ("Paris", "", "75008", "FR", "Europe/Paris"),
    ("Berlin", "", "10115", "DE", "Europe/Berlin"),
    ("Dublin", "", "D02 X285", "IE", "Europe/Dublin"),
    ("Melbourne", "VIC", "3000", "AU", "Australia/Melbourne"),
]
STREETS = ["Maple Ave", "High Street", "Rue du Bac", "Linden Way", "Harbour Rd", "Oak Lane", "Mill St"]

FACTS = [
    "buys the blue teapot as a gift for her mother every spring",
    "asked whether the sencha is shade-grown",
    "runs a small café and orders for the counter",
    "prefers loose-leaf tea to bags",
    "is avoiding caffeine in the evenings",
    "asked about gluten-free biscuits to go with the tasting flight",
    "learned to whisk matcha from our video and wrote to say so",
    "collects cast-iron kettles",
    "gave our gift box to a colleague who was leaving",
    "mentioned a new baby at home in their last order note",
    "hosts a monthly tea club with neighbours",
    "told us the jasmine reminds them of their grandmother's kitchen",
    "is a teacher and buys rooibos for the staff room",
    "moved house last autumn and updated their address",
    "asked for the packaging to be plastic-free",
]

QUESTIONS = [
    "Is the Darjeeling from this year's first flush?",
    "Do you ship to Canada, and how long does it take?",
    "Which tea would you suggest for someone who finds green tea bitter?",
    "Can I get the gift box without the card inside?",
    "How much matcha should I use for one bowl?",
    "Is the cast-iron kettle safe on an induction hob?",
]
COMPLAINTS = [
    "The parcel arrived a week late and the tin was dented.",
    "The teapot lid arrived chipped.",
    "I was charged twice for the same order.",
    "The tea tasted stale compared to last time.",
    "Nobody answered my email about the missing infuser.",
    "The tracking link never worked.",
]
PRAISE = [
    "The handwritten note in my order made my day.",
    "Thank you for replacing the teapot so quickly.",
    "Best oolong I have had outside Taiwan.",
    "Your advice on brewing temperature changed everything.",
]
REVIEWS = [
    "Lovely tea, lovely people.",
    "Good quality, arrived well packed.",
    "The tasting flight is a wonderful gift.",
]
RESOLUTIONS = [
    "Sent a replacement with a note of apology.",
    "Refunded the duplicate charge the same day.",
    "Replaced the tin and explained the courier delay.",
]

# Staff who serve customers in the demo: (email, name, role)
STAFF = [
    ("maya.chen@example.com", "Maya Chen", "agent"),
    ("tom.okafor@example.com", "Tom Okafor", "agent"),
    ("ines.moreau@example.com", "Inès Moreau", "manager"),
]
OWNER_EMAIL = "owner@example.com"
OWNER_NAME = "Rosa Lindqvist"  # signs notes too, so a real name rather than "Shop owner"

# The rewards catalogue, things people want more than a discount: (name, kind, points, description,
# stock or None for unlimited, per-person limit or None). At one point per dollar, half the demo's
# members hold over 100 points and one in ten over 600: the small rewards are in reach, the gifts a goal.
REWARDS: list[tuple[str, str, int, str, int | None, int | None]] = [
    ("Free shipping on your next order", "free_shipping", 80,
     "Whatever you order next, we post it for free.", None, None),
    ("$5 off your next order", "discount", 120,
     "Taken off at checkout, on anything in the shop.", None, None),
    ("Plant ten tea bushes in Nilgiri", "donation", 150,
     "We pay a smallholders' cooperative in the Nilgiri hills to plant ten bushes in your name.", None, None),
    ("A surprise sample in every order for three months", "earned_bonus", 200,
     "A 10 g pouch of something we are tasting, tucked into each parcel.", None, 1),
    ("Bamboo matcha whisk set", "physical_gift", 250,
     "Whisk, scoop and holder, hand-made in Nara. Sent by post.", 25, 1),
    ("Private tasting with our tea buyer", "experience", 350,
     "Forty-five minutes online with Inès: six teas from this season, sent ahead.", 12, 1),
    ("Blue glazed teapot, 0.8 l", "physical_gift", 600,
     "Our best-loved teapot, glazed by hand in Stoke-on-Trent. Sent by post.", 8, 1),
]  # fmt: skip
