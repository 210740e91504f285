/// Why a query, an attention summary or an index could not be made.
public enum RetrievalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The dataset has no gallery split (or an empty one).
    case noGallery(String)
    /// No sample of the dataset has this id.
    case unknownSample(String)
    /// The id is not a gallery item (attention needs a gallery match).
    case notInGallery(String)
    /// An image that the query needs cannot be read or decoded.
    case imageUnreadable(String, String)
    /// The sample has no image, but the query mode needs one.
    case sampleHasNoImage(String)
    /// The caption is empty after trimming.
    case emptyCaption
    /// Text-to-image attention needs trained fusion layers.
    case attentionNeedsModel
    /// A request argument is out of range.
    case invalidArgument(String)
    /// A read-only engine (a guest session) found no current gallery index to open.
    case notPrepared(system: String, reason: String, command: String)

    public var description: String {
        switch self {
        case .noGallery(let root):
            return "\(root) has no gallery split to search; a Product1M folder needs product1m_gallery_ossurl_v2.txt, a captions folder a split column with \"gallery\" items"
        case .unknownSample(let id): return "no sample has the id \"\(id)\" (see `vitrine info` for the splits)"
        case .notInGallery(let id): return "\"\(id)\" is not a gallery item"
        case .imageUnreadable(let path, let reason): return "cannot use the image \(path): \(reason)"
        case .sampleHasNoImage(let id): return "sample \"\(id)\" has no image file; query it by caption (mode caption)"
        case .emptyCaption: return "the caption is empty; type some words to search"
        case .attentionNeedsModel:
            return "text-to-image attention needs a trained model: without a checkpoint the fusion layers are untrained and their attention means nothing. Pass --model CKPT (train one with `vitrine train`), or use an image query, whose map compares backbone cells"
        case .invalidArgument(let reason): return reason
        case .notPrepared(let system, let reason, let command):
            return "search is not prepared on this host: the gallery index of \(system) cannot be used (\(reason)); the host builds it with `\(command)`"
        }
    }
}
