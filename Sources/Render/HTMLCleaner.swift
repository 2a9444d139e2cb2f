// Applies the policy to a parsed document, in place: removes what must go, strips what an
// element may not carry, rewrites image sources and adds the link attributes. The
// serializer then writes out the cleaned tree.

struct HTMLCleaner {
    let policy: SanitizerPolicy

    /// Cleans `document` and returns how many remote images were blocked.
    func clean(_ document: LibXML2Document) -> Int {
        var blockedRemoteImages = 0
        document.walk(enter: { node in
            switch node.kind {
            case .text:
                return .descend
            case .other:
                // Comments (and so Outlook's conditional comments), processing instructions,
                // doctypes: nothing a reader sees, and comments are an mXSS favourite.
                return .remove
            case .element:
                let name = node.name
                switch HTMLPolicy.disposition(of: name) {
                case .drop:
                    return .remove
                case .unwrap:
                    if node.hasAttributes { node.setAttributes([]) }
                    return .descend
                case .keep:
                    let current = node.attributes
                    guard let kept = keptAttributes(current, element: name,
                                                    blockedRemoteImages: &blockedRemoteImages) else {
                        return .remove
                    }
                    if !kept.elementsEqual(current, by: { $0 == $1 }) { node.setAttributes(kept) }
                    return .descend
                }
            }
        })
        return blockedRemoteImages
    }

    /// The attributes an element keeps, in document order; nil when the element itself must
    /// go (an image whose Content-ID the caller cannot resolve).
    private func keptAttributes(_ attributes: [(name: String, value: String)], element: String,
                                blockedRemoteImages: inout Int) -> [(name: String, value: String)]? {
        var kept: [(name: String, value: String)] = []
        var hasHref = false
        for (name, value) in attributes where HTMLPolicy.allows(attribute: name, on: element) {
            switch (element, name) {
            case (_, "style"):
                if let style = CSSFilter.filter(value) { kept.append((name, style)) }
            case ("a", "href"):
                if let url = URLPolicy.link(value) {
                    kept.append((name, url))
                    hasHref = true
                }
            case ("img", "src"):
                switch URLPolicy.imageSource(value) {
                case .remote(let url):
                    if policy.allowRemoteImages {
                        kept.append((name, url))
                    } else {
                        // No remote URL stays in the output, not even in a data- attribute:
                        // the portal re-renders with allowRemoteImages when asked.
                        blockedRemoteImages += 1
                    }
                case .contentID(let id):
                    guard let reference = policy.resolveContentID(id), !reference.isEmpty else { return nil }
                    kept.append((name, reference))
                case .inline(let url):
                    kept.append((name, url))
                case .rejected:
                    break
                }
            default:
                kept.append((name, value))
            }
        }
        if hasHref {
            kept.append(("target", HTMLPolicy.linkTarget))
            kept.append(("rel", HTMLPolicy.linkRel))
        }
        return kept
    }
}
