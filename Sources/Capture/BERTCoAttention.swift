import Tensor

/// A co-attention (ViLBERT connection) layer: both streams are updated from the
/// same inputs, the text side's queries attending to the image stream and the
/// image side's queries attending to the text stream; each side has its own
/// attention output and feed-forward sublayers (docs/model.md §4.5, "Co-attention").
///
/// Names: `co.layer.N.text.` and `co.layer.N.image.` followed by BERT's layer
/// sub-names (`attention.self.query.weight`, ..., `output.LayerNorm.bias`).
public final class BertCoAttentionLayer: @unchecked Sendable {
    public let text: BertLayer
    public let image: BertLayer
    private var textRows = 0, imageRows = 0, hidden = 0
    private var dText = Workspace(), dImage = Workspace()

    /// `prefix` is the layer's, e.g. `"co.layer.0."`.
    public init(prefix: String, dims: BertDimensions, rng: inout SeededRNG) {
        text = BertLayer(prefix: prefix + "text.", dims: dims, rng: &rng)
        image = BertLayer(prefix: prefix + "image.", dims: dims, rng: &rng)
    }

    public var parameters: [Parameter] { text.parameters + image.parameters }

    /// Updates both streams. `textMask` (`[batch, textLength]`) masks text padding for
    /// the image side's keys, `imageMask` (`[batch, imageLength]`, or nil) masks image
    /// tokens for the text side's keys. Returns the new text and image states (owned by the layer).
    public func forward(text textStates: UnsafePointer<Float>, textLength: Int, textMask: UnsafePointer<Float>?,
                        image imageStates: UnsafePointer<Float>, imageLength: Int, imageMask: UnsafePointer<Float>?,
                        batch: Int, mode: ForwardMode) -> (text: UnsafePointer<Float>, image: UnsafePointer<Float>) {
        textRows = batch * textLength; imageRows = batch * imageLength; hidden = text.dims.hidden
        let t = text.forward(textStates, context: imageStates, contextLength: imageLength, keyMask: imageMask,
                             batch: batch, length: textLength, mode: mode)
        let v = image.forward(imageStates, context: textStates, contextLength: textLength, keyMask: textMask,
                              batch: batch, length: imageLength, mode: mode)
        return (t, v)
    }

    /// Backward pass from the gradients of both outputs; returns the gradients of both
    /// inputs (each the sum of its own side's input gradient and the other side's
    /// context gradient), owned by the layer; nil when `computeInputGradient` is false.
    public func backward(dText dTextOut: UnsafePointer<Float>, dImage dImageOut: UnsafePointer<Float>,
                         computeInputGradient: Bool = true) -> (dText: UnsafePointer<Float>, dImage: UnsafePointer<Float>)? {
        let (dtIn, dtContext) = text.backward(dTextOut, computeInputGradient: computeInputGradient)
        let (dvIn, dvContext) = image.backward(dImageOut, computeInputGradient: computeInputGradient)
        guard computeInputGradient, let dtIn, let dtContext, let dvIn, let dvContext else { return nil }
        let dTextBuffer = dText.reserve(textRows * hidden), dImageBuffer = dImage.reserve(imageRows * hidden)
        residualForward(output: dTextBuffer, dtIn, dvContext, count: textRows * hidden)
        residualForward(output: dImageBuffer, dvIn, dtContext, count: imageRows * hidden)
        return (UnsafePointer(dTextBuffer), UnsafePointer(dImageBuffer))
    }
}
