"""Password policy after NIST SP 800-63B-4 §3.1.1.2 (memorized secrets):

- at least 15 characters when the password is the only factor (the case here), at most 128;
  every printable character and space allowed, Unicode normalised (NFKC) before hashing;
- no composition rules (no "one digit, one symbol") and no periodic expiry;
- refused when on the blocklist of breached / common passwords shipped with rplcare
  (`data/common-passwords.txt`, source in its header), when it repeats a short unit, walks a
  keyboard row or the digits, or contains the user's name or the service name.

`problems()` returns every reason at once, as the rest of rplcare reports input errors.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

MIN_LENGTH = 15
MAX_LENGTH = 128
LIST = Path(__file__).resolve().parent / "data" / "common-passwords.txt"
_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz")


@lru_cache(maxsize=1)
def blocklist() -> frozenset[str]:
    lines = LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(ln.strip().lower() for ln in lines if ln.strip() and not ln.startswith("#"))


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def _repeats_a_unit(pw: str) -> bool:
    return any(len(pw) % n == 0 and pw[:n] * (len(pw) // n) == pw for n in range(1, 5))


def _walks(pw: str) -> bool:
    """True when the password is one run along a keyboard row / the alphabet / the digits,
    forwards or backwards (allowing the row to wrap: 1234567890123...)."""
    low = pw.lower()
    for row in _ROWS:
        for seq in (row * 4, row[::-1] * 4):
            if low in seq:
                return True
    return False


def problems(password: str, user_name: str = "") -> list[str]:
    """Why a password is refused ([] when it is acceptable)."""
    pw = normalise(password)
    out = []
    if len(pw) < MIN_LENGTH:
        out.append(
            f"at least {MIN_LENGTH} characters (this one has {len(pw)}); a few unrelated "
            "words make a good one"
        )
    if len(pw) > MAX_LENGTH:
        out.append(f"at most {MAX_LENGTH} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in pw):
        out.append("no control characters")
    low = pw.lower()
    squeezed = "".join(low.split())
    if low in blocklist() or squeezed in blocklist():
        out.append("it is on the list of breached or common passwords; choose another")
    elif pw and (_repeats_a_unit(low) or _walks(squeezed)):
        out.append("it repeats or walks a keyboard row; choose something less predictable")
    name = user_name.strip().lower()
    if (len(name) >= 3 and name in low) or "rplcare" in squeezed:
        out.append("it must not contain the user name or the service name")
    return out
