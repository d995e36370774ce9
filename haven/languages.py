"""Haven's languages: the public codes used in URLs, cookies, catalogs, SMS and CAP.

A plain module (no Flask), so pure code such as CAP output can use it too.
"""

LANGUAGES: tuple[str, ...] = (
    "en", "es", "ar", "bn", "de", "fr", "hi", "id", "is", "it", "km", "ko", "ckb",
    "ml", "mr", "nl", "pt", "si", "ta", "th", "tl", "tr", "uk", "ur", "vi", "zh",
    "ru", "fa", "pl", "ja", "ht", "so", "sw", "am",
)  # fmt: skip
