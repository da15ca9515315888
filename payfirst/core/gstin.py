"""GST identification numbers and the GST state codes: shared by accounts (a buyer's GSTIN on an address) and
invoices (the seller's GSTIN, the place of supply).

A GSTIN is 15 characters: the two-digit state code, the holder's 10-character PAN, an entity number (1-9, A-Z),
the letter Z, and a check character computed over the first 14 by the GSTN's base-36 Luhn variant.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# The GST state and union territory codes (the first two digits of every GSTIN).
STATES: dict[str, str] = {
    "01": "Jammu and Kashmir",
    "02": "Himachal Pradesh",
    "03": "Punjab",
    "04": "Chandigarh",
    "05": "Uttarakhand",
    "06": "Haryana",
    "07": "Delhi",
    "08": "Rajasthan",
    "09": "Uttar Pradesh",
    "10": "Bihar",
    "11": "Sikkim",
    "12": "Arunachal Pradesh",
    "13": "Nagaland",
    "14": "Manipur",
    "15": "Mizoram",
    "16": "Tripura",
    "17": "Meghalaya",
    "18": "Assam",
    "19": "West Bengal",
    "20": "Jharkhand",
    "21": "Odisha",
    "22": "Chhattisgarh",
    "23": "Madhya Pradesh",
    "24": "Gujarat",
    "26": "Dadra and Nagar Haveli and Daman and Diu",
    "27": "Maharashtra",
    "29": "Karnataka",
    "30": "Goa",
    "31": "Lakshadweep",
    "32": "Kerala",
    "33": "Tamil Nadu",
    "34": "Puducherry",
    "35": "Andaman and Nicobar Islands",
    "36": "Telangana",
    "37": "Andhra Pradesh",
    "38": "Ladakh",
    "97": "Other Territory",
}
# Union territories without a legislature levy UTGST where the states levy SGST.
UTGST_CODES: frozenset[str] = frozenset({"04", "26", "31", "35", "38"})

_ALIASES: dict[str, str] = {
    "new delhi": "07",
    "nct of delhi": "07",
    "orissa": "21",
    "pondicherry": "34",
    "j&k": "01",
    "jammu & kashmir": "01",
    "andaman & nicobar islands": "35",
    "daman and diu": "26",
    "dadra and nagar haveli": "26",
    "uttaranchal": "05",
    # the usual two-letter vehicle-registration abbreviations
    "ka": "29",
    "mh": "27",
    "tn": "33",
    "kl": "32",
    "dl": "07",
    "up": "09",
    "wb": "19",
    "gj": "24",
    "rj": "08",
    "ts": "36",
    "tg": "36",
    "ap": "37",
    "mp": "23",
    "hr": "06",
    "pb": "03",
    "br": "10",
    "od": "21",
    "ga": "30",
}
_BY_NAME: dict[str, str] = {name.lower(): code for code, name in STATES.items()} | _ALIASES

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
GSTIN_PATTERN = re.compile(r"^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]$")


def state_code_for(name: str) -> str | None:
    """The GST state code of a state's name as people write it (case and spacing ignored), or None."""
    key = " ".join(name.replace(".", " ").split()).lower()
    if key in _BY_NAME:
        return _BY_NAME[key]
    if key.isdigit() and key.zfill(2) in STATES:
        return key.zfill(2)
    return None


def gstin_check_character(first14: str) -> str:
    """The 15th character of a GSTIN: base 36, weights 1 and 2 alternating, each product's base-36 digits summed."""
    total = 0
    for index, char in enumerate(first14):
        product = _ALPHABET.index(char) * (2 if index % 2 else 1)
        total += product // 36 + product % 36
    return _ALPHABET[(36 - total % 36) % 36]


def gstin_problem(value: str, *, state_code: str | None = None) -> str:
    """Why `value` is not a valid GSTIN (for `state_code`, when given), as a sentence; "" when it is."""
    if not GSTIN_PATTERN.match(value):
        return (
            "A GSTIN is 15 characters: the 2-digit state code, a 10-character PAN, an entity number, Z and a check "
            "character."
        )
    if value[:2] not in STATES:
        return f"{value[:2]} is not a GST state code."
    if gstin_check_character(value[:14]) != value[14]:
        return "The GSTIN's check character does not match: check it for a typing mistake."
    if state_code is not None and value[:2] != state_code:
        where = STATES.get(state_code) or "the address's state"
        return f"This GSTIN is registered in {STATES[value[:2]]}, not in {where}."
    return ""


def validate_gstin(value: str) -> None:
    """A model-field validator: the format, the state code and the check character (letters in either case; the
    model upper-cases them when it cleans)."""
    problem = gstin_problem(value.strip().upper())
    if problem:
        raise ValidationError(problem, code="invalid_gstin")
