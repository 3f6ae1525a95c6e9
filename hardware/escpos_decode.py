"""Read back the ESC/POS bytes python-escpos emits for our receipts: lines, styles and events.

No ESC/POS renderer can be installed (PyPI, Debian, npm), so this decoder covers the subset our
receipts use (ESC @ ! E a t d - M { p 2 3 J, GS ! V B b | ( k v 0, DLE EOT, LF). It serves the
virtual printer (text and PNG of each receipt for the demo) and the tests, which assert on what
a real printer would print rather than on mocks. Text is decoded with the code page the stream
selected (ESC t), so a wrong code page shows up as wrong accents, as it would on paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ESC, GS, DLE, LF = 0x1B, 0x1D, 0x10, 0x0A

# ESC t n -> Python codec: Epson's standard slots, plus 53 where some 58 mm profiles put PC858.
CODE_PAGES = {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252", 17: "cp866",
              18: "cp852", 19: "cp858", 53: "cp858"}
# ESC commands that take exactly one parameter byte and change nothing we track.
_ESC_ONE_ARG = frozenset(b"-M{J3rGUVR")
_GS_ONE_ARG = frozenset(b"BbH|fhwI")
_GS_TWO_ARGS = frozenset(b"LWP")
_ALIGN = {0: "left", 48: "left", 1: "center", 49: "center", 2: "right", 50: "right"}


@dataclass(slots=True)
class DecodedLine:
    """One printed line with the style it started with; `columns` counts double width twice."""

    text: str
    align: str = "left"
    bold: bool = False
    width: int = 1
    height: int = 1

    @property
    def columns(self) -> int:
        return len(self.text) * self.width


@dataclass(slots=True)
class Decoded:
    lines: list[DecodedLine] = field(default_factory=list)
    cuts: int = 0
    drawer_kicks: list[int] = field(default_factory=list)  # pins (2 or 5)
    code_pages: list[int] = field(default_factory=list)  # every ESC t n, in order
    status_queries: list[int] = field(default_factory=list)  # DLE EOT n
    qr_codes: int = 0
    images: int = 0
    unknown: list[bytes] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    @property
    def cut(self) -> bool:
        return self.cuts > 0

    @property
    def drawer_kicked(self) -> bool:
        return bool(self.drawer_kicks)


class _State:
    def __init__(self, out: Decoded) -> None:
        self.out = out
        self.reset()
        self.parts: list[str] = []
        self.pending = bytearray()
        self.line_style: tuple[str, bool, int, int] | None = None

    def reset(self) -> None:
        self.codec, self.align, self.bold, self.width, self.height = "cp437", "left", False, 1, 1

    def add(self, byte: int) -> None:
        if self.line_style is None:
            self.line_style = (self.align, self.bold, self.width, self.height)
        self.pending.append(byte)

    def flush_text(self) -> None:
        if self.pending:
            self.parts.append(bytes(self.pending).decode(self.codec, errors="replace"))
            self.pending.clear()

    def end_line(self) -> None:
        self.flush_text()
        align, bold, width, height = self.line_style or (self.align, self.bold, self.width, self.height)
        self.out.lines.append(DecodedLine("".join(self.parts), align, bold, width, height))
        self.parts, self.line_style = [], None


def decode(data: bytes) -> Decoded:
    """Decode an ESC/POS byte stream; text not ended by LF when the stream ends is kept as a line."""
    out = Decoded()
    st = _State(out)
    i, n = 0, len(data)

    def arg(k: int) -> int:
        return data[i + k] if i + k < n else 0

    while i < n:
        b = data[i]
        if b == LF:
            st.end_line()
            i += 1
        elif b == ESC:
            cmd = arg(1)
            if cmd == ord("@"):
                st.flush_text()
                st.reset()
                i += 2
            elif cmd == ord("!"):
                mode = arg(2)
                st.bold, st.width, st.height = bool(mode & 0x08), 2 if mode & 0x20 else 1, 2 if mode & 0x10 else 1
                i += 3
            elif cmd == ord("E"):
                st.bold = bool(arg(2) & 1)
                i += 3
            elif cmd == ord("a"):
                st.align = _ALIGN.get(arg(2), "left")
                i += 3
            elif cmd == ord("t"):
                st.flush_text()
                out.code_pages.append(arg(2))
                st.codec = CODE_PAGES.get(arg(2), "cp437")
                i += 3
            elif cmd == ord("d"):
                if st.pending or st.parts:
                    st.end_line()
                out.lines.extend(DecodedLine("") for _ in range(arg(2)))
                i += 3
            elif cmd == ord("p"):
                out.drawer_kicks.append(2 if arg(2) in (0, 48) else 5)
                i += 5
            elif cmd == ord("2"):
                i += 2
            elif cmd in _ESC_ONE_ARG:
                i += 3
            else:
                out.unknown.append(data[i : i + 2])
                i += 2
        elif b == GS:
            cmd = arg(1)
            if cmd == ord("!"):
                size = arg(2)
                st.width, st.height = (size >> 4) + 1, (size & 0x0F) + 1
                i += 3
            elif cmd == ord("V"):
                out.cuts += 1
                i += 4 if arg(2) in (65, 66, 97, 98, 103, 104) else 3
            elif cmd == ord("("):
                length = arg(3) + 256 * arg(4)
                if arg(2) == ord("k") and arg(5) == 0x31 and arg(6) == 0x51:
                    out.qr_codes += 1
                i += 5 + length
            elif cmd == ord("v") and arg(2) == ord("0"):
                out.images += 1
                i += 8 + (arg(4) + 256 * arg(5)) * (arg(6) + 256 * arg(7))
            elif cmd in _GS_ONE_ARG:
                i += 3
            elif cmd in _GS_TWO_ARGS:
                i += 4
            else:
                out.unknown.append(data[i : i + 2])
                i += 2
        elif b == DLE and arg(1) == 0x04:
            out.status_queries.append(arg(2))
            i += 3
        elif b < 0x20:
            i += 1  # CR, HT and other controls: nothing visible for our receipts
        else:
            st.add(b)
            i += 1
    if st.pending or st.parts:
        st.end_line()
    return out


_MONO_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
               "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf")


def _font(size: int):
    from PIL import ImageFont

    for candidate in _MONO_FONTS:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size)  # Pillow's bundled font (covers Latin-1 accents)


def render_png(decoded: Decoded, path: str | Path, *, columns: int = 42, size: int = 18) -> Path:
    """Draw the lines as a thermal printer would: white paper, black text, aligned, bold.

    Double width or height stretches the glyphs as the printer does; the picture is
    `columns` characters wide (plus margins) so a 58 mm and an 80 mm receipt look different.
    """
    from PIL import Image, ImageDraw

    base = _font(size)
    cell = base.getlength("M")
    margin, line_h = int(cell), int(size * 1.35)
    width = int(columns * cell) + 2 * margin
    height = 2 * margin + sum(line_h * max(line.height, 1) for line in decoded.lines) + (line_h if decoded.cut else 0)
    image = Image.new("L", (width, max(height, 2 * margin + line_h)), 255)
    draw = ImageDraw.Draw(image)
    y = margin
    for line in decoded.lines:
        w, h = max(line.width, 1), max(line.height, 1)
        text_w = base.getlength(line.text) * w
        x = margin + {"left": 0, "center": (width - 2 * margin - text_w) / 2,
                      "right": width - 2 * margin - text_w}[line.align]
        stroke = 1 if line.bold else 0
        if w == h == 1:
            draw.text((x, y), line.text, fill=0, font=base, stroke_width=stroke, stroke_fill=0)
        else:  # a printer stretches the glyphs: draw at normal size, then scale the strip
            strip = Image.new("L", (max(int(base.getlength(line.text)) + 2, 1), line_h), 255)
            ImageDraw.Draw(strip).text((0, 0), line.text, fill=0, font=base, stroke_width=stroke, stroke_fill=0)
            image.paste(strip.resize((strip.width * w, line_h * h)), (int(x), y))
        y += line_h * h
    if decoded.cut:
        draw.line((0, y + line_h // 2, width, y + line_h // 2), fill=128, width=1)
    image.save(path, format="PNG")
    return Path(path)
