// Reads Prometheus's text exposition format with the reference parser, prometheus_client's
// (Debian: python3-prometheus-client), so the metrics file is checked by what Prometheus
// tooling accepts, not by the code that wrote it.
import Foundation

public enum PrometheusText {
    public struct Sample: Equatable, Sendable {
        public let name: String
        public let labels: [String: String]
        public let value: Double
    }

    public struct Family: Sendable {
        /// The family name as the parser gives it (a counter's without `_total`).
        public let name: String
        public let type: String
        public let help: String
        public let samples: [Sample]
    }

    /// A python3 that has prometheus_client: Debian's first (the python3 first on PATH may be
    /// another installation without it), then the one on PATH.
    public static func python() throws -> String {
        for candidate in ["/usr/bin/python3", "python3"] {
            if let r = try? Shell.run(candidate, ["-c", "import prometheus_client.parser"], timeout: 30), r.status == 0 {
                return candidate
            }
        }
        throw MissingTool("python3-prometheus-client (prometheus_client for python3)")
    }

    static let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = []
        for f in text_string_to_metric_families(sys.stdin.read()):
            out.append({"name": f.name, "type": f.type, "help": f.documentation,
                         "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
        json.dump(out, sys.stdout)
        """

    /// Parses `text`; throws (with the parser's message) when it is not valid exposition format.
    public static func parse(_ text: String) throws -> [Family] {
        let r = try Shell.check(try python(), ["-c", script], stdin: Data(text.utf8), timeout: 60)
        guard let list = try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]] else {
            throw CocoaError(.fileReadCorruptFile)
        }
        return list.map { f in
            Family(name: f["name"] as? String ?? "", type: f["type"] as? String ?? "", help: f["help"] as? String ?? "",
                   samples: (f["samples"] as? [[String: Any]] ?? []).map { s in
                       Sample(name: s["name"] as? String ?? "", labels: s["labels"] as? [String: String] ?? [:],
                              value: (s["value"] as? NSNumber)?.doubleValue ?? .nan)
                   })
        }
    }

    /// The value of the one sample named `name` with exactly `labels`, if there is one.
    public static func value(_ families: [Family], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matches = families.flatMap(\.samples).filter { $0.name == name && $0.labels == labels }
        return matches.count == 1 ? matches[0].value : nil
    }
}
