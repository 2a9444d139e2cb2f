// An independent check of sanitizer output: re-parse it with libxml2 and list everything in
// it that must not be there. It keeps its own copy of the allow-list on purpose, so that a
// change to the policy must be made twice, here and in HTMLPolicy. Used by the sanitizer
// tests (RenderTests) and by the sanitizer's fuzz target, which stops on any violation.
//
// This file imports Foundation and libxml2 together: that it compiles shows the shim's
// `#undef LIBXML_ICU_ENABLED` fix for the 'UErrorCode' clash holds.
internal import CLibXML2
import Foundation

public enum HTMLOracle {
    static let allowedElements: Set<String> = [
        "a", "abbr", "acronym", "address", "article", "aside", "b", "bdi", "bdo", "big",
        "blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup", "dd", "del",
        "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "font", "footer",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img", "ins", "kbd", "li",
        "main", "mark", "nav", "ol", "p", "pre", "q", "rp", "rt", "ruby", "s", "samp", "section",
        "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td",
        "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
        // Implied by libxml2 when it parses any fragment.
        "html", "body",
    ]

    static let forbiddenMarkup = ["<script", "<iframe", "<svg", "<math", "<form", "<object", "<embed",
                                  "<meta", "<base", "<link", "<style", "<template", "<noscript"]

    static let urlAttributes: Set<String> = ["href", "src", "action", "formaction", "background", "poster",
                                             "srcset", "cite", "data", "codebase", "longdesc", "usemap",
                                             "xlink:href", "dynsrc", "lowsrc"]

    /// Everything wrong with `html` as output of the default policy (remote images blocked).
    /// `imageReferences` are the values the test's Content-ID resolver hands out.
    public static func violations(in html: String, remoteImagesAllowed: Bool = false,
                           imageReference: (String) -> Bool = { _ in false }) -> [String] {
        var problems: [String] = []
        let lowered = html.lowercased()
        for markup in forbiddenMarkup where lowered.contains(markup) {
            problems.append("contains \(markup)")
        }
        let bytes = Array(html.utf8)
        let options = Int32(HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue
                            | HTML_PARSE_NONET.rawValue | HTML_PARSE_NODEFDTD.rawValue)
        guard !bytes.isEmpty else { return problems }
        guard let doc = bytes.withUnsafeBufferPointer({ buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                htmlReadMemory($0.baseAddress, Int32($0.count), nil, "UTF-8", options)
            }
        }) else {
            return problems + ["libxml2 could not parse the output"]
        }
        defer { xmlFreeDoc(doc) }

        func check(_ first: xmlNodePtr?) {
            var node = first
            while let n = node {
                switch n.pointee.type {
                case XML_ELEMENT_NODE:
                    let name = String(cString: n.pointee.name).lowercased()
                    if !allowedElements.contains(name) { problems.append("element <\(name)>") }
                    var attribute = n.pointee.properties
                    while let a = attribute {
                        let attributeName = String(cString: a.pointee.name).lowercased()
                        var value = ""
                        var child = a.pointee.children
                        while let c = child {
                            if let content = c.pointee.content { value += String(cString: content) }
                            child = c.pointee.next
                        }
                        problems += attributeProblems(element: name, name: attributeName, value: value,
                                                      remoteImagesAllowed: remoteImagesAllowed,
                                                      imageReference: imageReference)
                        attribute = a.pointee.next
                    }
                    check(n.pointee.children)
                case XML_TEXT_NODE:
                    break
                case XML_COMMENT_NODE:
                    problems.append("comment")
                default:
                    problems.append("node of type \(n.pointee.type.rawValue)")
                }
                node = n.pointee.next
            }
        }
        check(doc.pointee.children)
        return problems
    }

    private static func attributeProblems(element: String, name: String, value: String, remoteImagesAllowed: Bool,
                                          imageReference: (String) -> Bool) -> [String] {
        var problems: [String] = []
        if name.hasPrefix("on") { problems.append("event attribute \(name)") }
        let stripped = String(String.UnicodeScalarView(value.unicodeScalars.filter { $0.value > 0x20 })).lowercased()
        if urlAttributes.contains(name) {
            for bad in ["javascript:", "vbscript:", "data:text", "data:image/svg"] where stripped.hasPrefix(bad) {
                problems.append("\(name)=\(value)")
            }
        }
        if name == "href" && !(stripped.hasPrefix("http://") || stripped.hasPrefix("https://") || stripped.hasPrefix("mailto:")) {
            problems.append("href \(value) is not http, https or mailto")
        }
        if name == "src" {
            let inline = ["png", "gif", "jpeg", "webp"].contains { stripped.hasPrefix("data:image/\($0)") }
            let remote = stripped.hasPrefix("http://") || stripped.hasPrefix("https://")
            if !(inline || imageReference(value) || (remote && remoteImagesAllowed)) {
                problems.append("src \(value) is not an allowed image source")
            }
        }
        if name == "style" && (value.lowercased().contains("url(") || value.lowercased().contains("expression")) {
            problems.append("style \(value)")
        }
        if !["href", "src", "style"].contains(name) && urlAttributes.contains(name) {
            problems.append("URL attribute \(name)")
        }
        return problems
    }
}
