// The allow-lists: which elements and attributes of a mail body survive. Anything not named
// here is removed; a deny-list left <svg>, <iframe>, <form> and <meta http-equiv=refresh>
// alive when it was tried (C-INTEROP-NOTES, libxml2).

/// What happens to an element and its subtree.
enum ElementDisposition: Equatable {
    /// The element is written out with its allowed attributes.
    case keep
    /// The tag goes, its children stay (their text is shown).
    case unwrap
    /// The element goes with everything inside it.
    case drop
}

enum HTMLPolicy {
    /// Elements written out: text structure, tables (mail layouts are tables), images and links.
    /// No forms, media, frames, scripting or foreign content (svg, math).
    static let keptElements: Set<String> = [
        "a", "abbr", "acronym", "address", "article", "aside", "b", "bdi", "bdo", "big",
        "blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup", "dd", "del",
        "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "font", "footer",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img", "ins", "kbd", "li",
        "main", "mark", "nav", "ol", "p", "pre", "q", "rp", "rt", "ruby", "s", "samp", "section",
        "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td",
        "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
    ]

    /// Elements removed with their content, because that content is code, metadata, a
    /// control's value or foreign markup, not text meant for the reader. <noscript> is here
    /// too: a browser with scripting on parses its content as raw text and libxml2 parses it
    /// as markup, the classic mXSS gap (`<noscript><p title="</noscript><img onerror=…>">`).
    /// <style> blocks go as well: filtering whole style sheets is much harder than filtering
    /// one `style` attribute, and dropping them is the simplest safe choice.
    static let droppedElements: Set<String> = [
        "script", "style", "template", "noscript", "svg", "math", "iframe", "frame", "frameset",
        "noframes", "object", "applet", "param", "title", "head", "meta", "base", "link",
        "input", "select", "option", "optgroup", "textarea", "datalist", "output",
        "audio", "video", "canvas", "noembed", "isindex", "portal",
    ]
    // Not in that list although removed: <embed>, <source>, <track>, <keygen>, <bgsound>.
    // libxml2 2.9 does not know these as void elements and makes everything after them
    // their children (`<embed src=x><p>text` gives embed > p), so dropping them with their
    // "content" would drop the rest of the message. Unwrapping removes the element and its
    // attributes and keeps what follows; in HTML they have no content of their own.

    /// Everything else (unknown elements such as <nobr> or <blink>, <form>, <button>, <label>, <xmp>,
    /// <marquee>, <html> and <body> themselves) is unwrapped: the tag and its attributes go,
    /// the children are judged on their own. Text the sender meant to show stays visible.
    static func disposition(of element: String) -> ElementDisposition {
        if keptElements.contains(element) { return .keep }
        if droppedElements.contains(element) { return .drop }
        return .unwrap
    }

    /// Kept elements that have no end tag in HTML (WHATWG HTML §13.1.2, void elements).
    /// libxml2 2.9 does not know <wbr> as void and gives it the following nodes as children;
    /// the serializer writes those after the tag, where a browser puts them.
    static let voidElements: Set<String> = ["br", "hr", "img", "wbr", "col"]

    /// Attributes allowed on every kept element. `style` goes through CSSFilter. `id`,
    /// `class` and `name` are left out: no style sheet survives to use them, and ids and
    /// names are what DOM clobbering needs.
    static let globalAttributes: Set<String> = ["title", "lang", "dir", "style", "role"]

    /// Attributes allowed on one element only. URLs (`a href`, `img src`) go through
    /// URLPolicy; no other URL-valued attribute (background, cite, srcset, longdesc, usemap,
    /// action, poster, xlink:href...) is allowed at all.
    static let elementAttributes: [String: Set<String>] = [
        "a": ["href"],
        "img": ["src", "alt", "width", "height", "border", "hspace", "vspace", "align"],
        "table": ["width", "height", "border", "cellpadding", "cellspacing", "bgcolor", "align",
                  "summary", "frame", "rules"],
        "tr": ["bgcolor", "align", "valign", "height"],
        "td": ["width", "height", "colspan", "rowspan", "bgcolor", "align", "valign", "nowrap", "scope", "abbr"],
        "th": ["width", "height", "colspan", "rowspan", "bgcolor", "align", "valign", "nowrap", "scope", "abbr"],
        "thead": ["align", "valign"],
        "tbody": ["align", "valign"],
        "tfoot": ["align", "valign"],
        "col": ["span", "width", "align", "valign"],
        "colgroup": ["span", "width", "align", "valign"],
        "caption": ["align"],
        "font": ["color", "face", "size"],
        "ol": ["start", "type", "reversed"],
        "ul": ["type"],
        "li": ["value", "type"],
        "hr": ["width", "size", "noshade", "align", "color"],
        "p": ["align"], "div": ["align"], "center": ["align"],
        "h1": ["align"], "h2": ["align"], "h3": ["align"], "h4": ["align"], "h5": ["align"], "h6": ["align"],
        // Mail clients mark quoted replies with <blockquote type="cite">.
        "blockquote": ["type"],
        "time": ["datetime"], "del": ["datetime"], "ins": ["datetime"],
        "details": ["open"],
    ]

    static func allows(attribute name: String, on element: String) -> Bool {
        globalAttributes.contains(name) || ariaAttributes.contains(name)
            || elementAttributes[element]?.contains(name) == true
    }

    /// ARIA attributes that carry a value for screen readers. Those that point at other
    /// elements by id (aria-labelledby, aria-owns, aria-activedescendant...) are left out with
    /// the ids they would point at.
    static let ariaAttributes: Set<String> = [
        "aria-label", "aria-hidden", "aria-level", "aria-roledescription", "aria-colindex",
        "aria-rowindex", "aria-colspan", "aria-rowspan", "aria-posinset", "aria-setsize",
    ]

    /// Added to every kept `<a href>`: the link opens outside the sandboxed message frame,
    /// and the opened page gets neither `window.opener` nor a Referer naming the portal.
    static let linkTarget = "_blank"
    static let linkRel = "noopener noreferrer"
}
