// Writes a cleaned document out as a UTF-8 body fragment. It is the last line of defence
// and trusts nothing: it writes only allow-listed elements and attributes, always quotes
// and escapes, and never writes a comment or a raw-text element, so a browser that parses
// the output builds no element the sanitizer did not see (mXSS).
import Mail

enum HTMLSerializer {
    static func serialize(_ document: LibXML2Document) -> String {
        var out: [UInt8] = []
        document.walk(enter: { node in
            switch node.kind {
            case .text:
                HTMLEscape.text(node.text, into: &out)
                return .descend
            case .other:
                return .skipChildren
            case .element:
                let name = node.name
                switch HTMLPolicy.disposition(of: name) {
                case .drop:
                    return .skipChildren
                case .unwrap:
                    return .descend
                case .keep:
                    writeStartTag(of: node, name: name, into: &out)
                    // A void element's children in libxml2's tree (see voidElements) are
                    // written after its tag, with no end tag: its siblings, as a browser
                    // parses them.
                    return .descend
                }
            }
        }, leave: { node in
            let name = node.name
            if HTMLPolicy.disposition(of: name) == .keep && !HTMLPolicy.voidElements.contains(name) {
                out.append(contentsOf: "</\(name)>".utf8)
            }
        })
        return String(decoding: out, as: UTF8.self)
    }

    private static func writeStartTag(of node: LibXML2Node, name: String, into out: inout [UInt8]) {
        out.append(contentsOf: "<\(name)".utf8)
        for (attribute, value) in node.attributes where isWritable(attribute, on: name) {
            out.append(contentsOf: " \(attribute)=\"".utf8)
            HTMLEscape.attribute(value, into: &out)
            out.append(UInt8(ascii: "\""))
        }
        // No newline is added after <pre>: a browser drops one newline right after the tag
        // (WHATWG HTML §13.2.6.4.7), and libxml2 2.9 keeps it in the text node, so writing
        // the text as it is gives the browser what it would have shown from the original.
        out.append(UInt8(ascii: ">"))
    }

    private static func isWritable(_ attribute: String, on element: String) -> Bool {
        if HTMLPolicy.allows(attribute: attribute, on: element) { return true }
        // Added by the cleaner to links, never taken from the message.
        return element == "a" && (attribute == "target" || attribute == "rel")
    }
}
