// How a sweep (and reprocess) cuts its files into batches (issue 16): at most
// limits.batch_size files and, since a batch's parsed messages are in memory together, at
// most limits.batch_mb bytes; a file larger than that is a batch of its own.
enum Batching {
    /// `items` in order, cut into runs of at most `maxCount` items and `maxBytes` bytes
    /// (`size` of each); `together` may refuse to put an item after the previous one.
    static func batches<T>(_ items: [T], maxCount: Int, maxBytes: Int, size: (T) -> Int,
                           together: (T, T) -> Bool = { _, _ in true }) -> [[T]] {
        var out: [[T]] = []
        var bytes = 0
        for item in items {
            let n = size(item)
            if let last = out.last, let previous = last.last, last.count < maxCount, bytes + n <= maxBytes, together(previous, item) {
                out[out.count - 1].append(item)
                bytes += n
            } else {
                out.append([item])
                bytes = n
            }
        }
        return out
    }
}
