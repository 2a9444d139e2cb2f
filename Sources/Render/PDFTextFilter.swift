// Makes text safe to draw with the embedded font: characters the font has no glyph for, or
// that need a shaping/bidi engine libharu does not have (right-to-left scripts), become a
// visible placeholder and are counted, so that the PDF can say the portal copy is complete.
// Invisible format and control characters are dropped (they carry no content to lose).
import Foundation

struct PDFTextFilter {
    /// WHITE SQUARE, if the font has it; "?" otherwise.
    let placeholder: Character
    private let hasGlyph: (Unicode.Scalar) -> Bool
    /// How many characters were replaced so far.
    private(set) var replaced = 0

    init(hasGlyph: @escaping (Unicode.Scalar) -> Bool) {
        self.hasGlyph = hasGlyph
        placeholder = hasGlyph("\u{25A1}") ? "\u{25A1}" : "?"
    }

    /// `text` with line ends made "\n" (or spaces, for a single-line field), tabs expanded
    /// to 4-column stops, NFC-composed, and every character the font cannot show replaced.
    mutating func clean(_ text: String, multiline: Bool = true) -> String {
        let composed = text.precomposedStringWithCanonicalMapping
        var out = String.UnicodeScalarView()
        var column = 0
        var lastWasCR = false
        for scalar in composed.unicodeScalars {
            let wasCR = lastWasCR
            lastWasCR = scalar == "\r"
            switch scalar {
            case "\n" where wasCR:
                continue  // the "\n" of a "\r\n" already ended the line
            case "\r", "\n", "\u{85}", "\u{2028}", "\u{2029}":
                if multiline {
                    out.append("\n")
                    column = 0
                } else {
                    out.append(" ")
                    column += 1
                }
                continue
            case "\t":
                let spaces = 4 - column % 4
                for _ in 0..<spaces { out.append(" ") }
                column += spaces
                continue
            default:
                break
            }
            if Self.isInvisible(scalar) { continue }
            if Self.needsShaping(scalar) || scalar.value > 0xFFFF || !hasGlyph(scalar) {
                out.append(contentsOf: placeholder.unicodeScalars)
                replaced += 1
            } else {
                out.append(scalar)
            }
            column += 1
        }
        return String(out)
    }

    /// Control and format characters (zero-width spaces and joiners, bidi controls, the soft
    /// hyphen, the byte order mark) and variation selectors: nothing to show.
    static func isInvisible(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .control, .format, .surrogate:
            return true
        default:
            break
        }
        return (0xFE00...0xFE0F).contains(s.value) || (0xE0100...0xE01EF).contains(s.value)
    }

    /// Scripts written right to left (Hebrew, Arabic, Syriac, Thaana, N'Ko and their
    /// presentation forms): DejaVu has glyphs for some, but libharu draws code points left
    /// to right, unshaped, which would show the text wrongly rather than not at all.
    static func needsShaping(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x0590...0x08FF, 0xFB1D...0xFDFF, 0xFE70...0xFEFF: return true
        default: return false
        }
    }
}
