// One parsed libxml2 HTML document: owns the xmlDoc and frees it on deinit, and walks its
// nodes without recursion. The only file that calls libxml2's parser and tree functions.
//
// This file imports no Foundation: libxml2's and Foundation's ICU headers clash
// ('UErrorCode' has different definitions; the shim also undefines LIBXML_ICU_ENABLED).
internal import CLibXML2

final class LibXML2Document {
    private let doc: htmlDocPtr

    private static let parserReady: Void = {
        // libxml2 asks multithreaded programs to initialise the parser once, before use.
        xmlInitParser()
    }()

    /// Parses UTF-8 (LibXML2Input.swift makes it from a mail body in any charset).
    init?(utf8 body: [UInt8]) {
        _ = Self.parserReady
        // libxml2 2.9 wraps text that comes before any element in an implied <p>
        // (htmlCheckParagraph), so "Hello<br>World" would gain a paragraph's margins.
        // Starting inside <body> avoids that; a later <html>, <head> or <body> tag in the
        // message is ignored or merged by the parser, and head-only elements that end up in
        // the body are dropped by the policy anyway.
        let input = Array("<body>".utf8) + body
        let options = Int32(HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue
                            | HTML_PARSE_NONET.rawValue | HTML_PARSE_NODEFDTD.rawValue)
        let parsed = input.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                htmlReadMemory(chars.baseAddress, Int32(clamping: chars.count), nil, "UTF-8", options)
            }
        }
        guard let parsed else { return nil }
        doc = parsed
    }

    deinit { xmlFreeDoc(doc) }

    /// What a visitor wants done with a node.
    enum Visit {
        /// Go on into the node's children (if it is an element).
        case descend
        /// Leave the node in place but do not visit its children.
        case skipChildren
        /// Remove the node and its subtree once the walk is over.
        case remove
    }

    /// Visits every node in document order: `enter` before an element's children, `leave`
    /// after them (for elements not removed). Iterative, so no input can exhaust the stack.
    /// Removal follows the rule for walks that delete: the next node is chosen before
    /// anything changes, and removed nodes are unlinked and freed only after the walk.
    func walk(enter: (LibXML2Node) -> Visit, leave: (LibXML2Node) -> Void = { _ in }) {
        // Top-level nodes have the document itself as their parent.
        let root = UnsafeMutableRawPointer(doc)
        var removed: [xmlNodePtr] = []
        var next: xmlNodePtr? = doc.pointee.children
        while let node = next {
            let isElement = node.pointee.type == XML_ELEMENT_NODE
            switch enter(LibXML2Node(node)) {
            case .descend:
                if isElement, let child = node.pointee.children {
                    next = child
                    continue
                }
                if isElement { leave(LibXML2Node(node)) }
            case .skipChildren:
                if isElement { leave(LibXML2Node(node)) }
            case .remove:
                removed.append(node)
            }
            next = nil
            var current = node
            while true {
                if let sibling = current.pointee.next {
                    next = sibling
                    break
                }
                guard let parent = current.pointee.parent, UnsafeMutableRawPointer(parent) != root else { break }
                leave(LibXML2Node(parent))
                current = parent
            }
        }
        for node in removed {
            xmlUnlinkNode(node)
            xmlFreeNode(node)
        }
    }
}

/// A node borrowed from a LibXML2Document; valid only while the walk that handed it out runs.
struct LibXML2Node {
    fileprivate let pointer: xmlNodePtr

    fileprivate init(_ pointer: xmlNodePtr) { self.pointer = pointer }

    enum Kind { case element, text, other }

    var kind: Kind {
        switch pointer.pointee.type {
        case XML_ELEMENT_NODE: return .element
        // libxml2 keeps <script> and <style> content as CDATA nodes; both are text here.
        case XML_TEXT_NODE, XML_CDATA_SECTION_NODE: return .text
        default: return .other
        }
    }

    /// The element's name, ASCII-lowercased. libxml2's HTML parser already lowercases names
    /// and drops a namespace prefix (`<o:p>` arrives as "p", `<v:shape>` as "shape").
    var name: String {
        guard let name = pointer.pointee.name else { return "" }
        return asciiLowercased(String(cString: name))
    }

    /// A text node's content (entities already decoded).
    var text: String {
        guard let content = pointer.pointee.content else { return "" }
        return String(cString: content)
    }

    /// The attributes in document order, names lowercased, values decoded. A bare
    /// attribute (`<td nowrap>`) has the empty value.
    var attributes: [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        var attribute = pointer.pointee.properties
        while let a = attribute {
            var value = ""
            var child = a.pointee.children
            while let c = child {
                if let content = c.pointee.content { value += String(cString: content) }
                child = c.pointee.next
            }
            let name = a.pointee.name.map { asciiLowercased(String(cString: $0)) } ?? ""
            result.append((name, value))
            attribute = a.pointee.next
        }
        return result
    }

    var hasAttributes: Bool { pointer.pointee.properties != nil }

    func attribute(_ name: String) -> String? {
        attributes.first { $0.name == name }?.value
    }

    /// Replaces every attribute of this element with `attributes`, in order.
    func setAttributes(_ attributes: [(name: String, value: String)]) {
        while let first = pointer.pointee.properties {
            xmlRemoveProp(first)
        }
        for (name, value) in attributes {
            withXMLString(name) { n in withXMLString(value) { v in _ = xmlNewProp(pointer, n, v) } }
        }
    }
}

private func withXMLString<R>(_ text: String, _ body: (UnsafePointer<xmlChar>) -> R) -> R {
    let bytes = Array(text.utf8) + [0]
    return bytes.withUnsafeBufferPointer { body($0.baseAddress!) }
}

func asciiLowercased(_ text: String) -> String {
    guard text.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return text }
    return String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
}
