using Backbones.Weights;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>A <see cref="KeypointRcnn"/> in evaluation mode as an <see cref="IDetector"/>: what <c>backbones detect</c> runs.</summary>
public sealed class KeypointRcnnDetector : IDetector
{
    readonly KeypointRcnn _model;

    public KeypointRcnnDetector(KeypointRcnn model, IReadOnlyList<string> categories, IReadOnlyList<string> keypointNames)
    {
        _model = model;
        _model.eval();
        Categories = categories;
        KeypointNames = keypointNames;
    }

    /// <summary>
    /// The detector with <paramref name="weights"/>: a catalogue name (null: the default set, COCO_V1), downloaded into
    /// torch hub's cache when missing, or a file of the same architecture; names come from the catalogue.
    /// </summary>
    public static KeypointRcnnDetector Create(string? weights, DownloadOptions? download = null)
    {
        var info = KeypointRcnn.CatalogueEntry(weights is not null && !File.Exists(weights) ? weights : "DEFAULT");
        var model = KeypointRcnn.Create(new KeypointRcnnOptions { Weights = weights ?? info.Name, Download = download });
        return new KeypointRcnnDetector(model, info.Categories, info.KeypointNames);
    }

    public KeypointRcnn Model => _model;
    public IReadOnlyList<string> Categories { get; }
    public IReadOnlyList<string> KeypointNames { get; }

    public IReadOnlyList<IReadOnlyDictionary<string, Tensor>> Detect(IReadOnlyList<Tensor> images)
    {
        using var _ = no_grad();
        return _model.call(images, null).Detections;
    }

    public void Dispose() => _model.Dispose();
}
