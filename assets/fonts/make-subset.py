#!/usr/bin/python3
"""Make the embedded CJK fonts: Noto Sans SC (one face out of Debian's Noto Sans CJK collection),
subset to ASCII, Latin-1, GB2312 and CJK/full-width punctuation. Fyne cannot load a .ttc and a bare
machine has no CJK font, so the program carries these. Needs Debian's fonts-noto-cjk and
python3-fonttools; the output is committed, so this runs only when the character set changes."""
import sys
from fontTools.ttLib import TTCollection
from fontTools import subset

def charset():
    cps = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))
    cps |= set(range(0x3000, 0x3040)) | set(range(0xFF00, 0xFFF0)) | set(range(0x2010, 0x2070))
    cps |= {0x2190, 0x2191, 0x2192, 0x2193, 0x2605, 0x2606, 0x25CB, 0x25CF, 0x2713, 0x2717, 0x00D7}
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                cps.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return cps

def main():
    src = "/usr/share/fonts/opentype/noto/NotoSansCJK-%s.ttc"
    for weight in ("Regular", "Bold"):
        coll = TTCollection(src % weight)
        font = next(f for f in coll.fonts if f["name"].getDebugName(4) == "Noto Sans CJK SC" + ("" if weight == "Regular" else " Bold"))
        opts = subset.Options()
        opts.hinting = False
        opts.layout_features = ["*"]
        opts.name_IDs = ["*"]
        opts.notdef_outline = True
        s = subset.Subsetter(opts)
        s.populate(unicodes=charset())
        s.subset(font)
        out = "NotoSansSC-%s.otf" % weight
        font.save(out)
        print(out)

if __name__ == "__main__":
    sys.exit(main())
