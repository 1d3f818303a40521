using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Detection;

/// <summary>
/// torchvision's AnchorGenerator: at every cell of every feature map, one anchor per size × aspect ratio (height /
/// width) of that map's level, centred on the cell's corner in image pixels. Holds no state-dict entries.
/// </summary>
public sealed class AnchorGenerator : nn.Module<Tensor, IReadOnlyList<Tensor>, List<Tensor>>
{
    // Not registered (no RegisterComponents): torchvision keeps them as plain attributes, outside the state dict.
    readonly List<Tensor> _cellAnchors;

    public IReadOnlyList<IReadOnlyList<int>> Sizes { get; }
    public IReadOnlyList<IReadOnlyList<double>> AspectRatios { get; }

    public AnchorGenerator(IReadOnlyList<IReadOnlyList<int>> sizes, IReadOnlyList<IReadOnlyList<double>> aspectRatios) : base("AnchorGenerator")
    {
        if (sizes.Count == 0 || sizes.Count != aspectRatios.Count)
            throw new ArgumentException($"AnchorGenerator: {sizes.Count} levels of sizes but {aspectRatios.Count} of aspect ratios; one of each per feature map", nameof(aspectRatios));
        Sizes = sizes.Select(s => (IReadOnlyList<int>)s.ToArray()).ToArray();
        AspectRatios = aspectRatios.Select(a => (IReadOnlyList<double>)a.ToArray()).ToArray();
        _cellAnchors = Sizes.Zip(AspectRatios, (s, a) => GenerateAnchors(s, a)).ToList();
    }

    /// <summary>Keypoint and Faster R-CNN's FPN anchors: sizes 32, 64, 128, 256, 512 (one per level), ratios 0.5, 1, 2 on each.</summary>
    public static AnchorGenerator ForFpn() =>
        new([[32], [64], [128], [256], [512]], Enumerable.Repeat<IReadOnlyList<double>>([0.5, 1.0, 2.0], 5).ToArray());

    /// <summary>The base anchors of each level ([sizes·ratios, 4], zero-centred, rounded), in float32.</summary>
    public IReadOnlyList<Tensor> CellAnchors => _cellAnchors;

    public int[] NumAnchorsPerLocation() => Sizes.Zip(AspectRatios, (s, a) => s.Count * a.Count).ToArray();

    /// <summary>
    /// generate_anchors: for every (ratio, scale), (-w/2, -h/2, w/2, h/2) with h = scale·√ratio and w = scale/√ratio,
    /// rounded half to even, computed in float32 as torchvision does.
    /// </summary>
    public static Tensor GenerateAnchors(IReadOnlyList<int> scales, IReadOnlyList<double> aspectRatios)
    {
        using var scope = NewDisposeScope();
        var s = tensor(scales.Select(v => (float)v).ToArray());
        var ratios = tensor(aspectRatios.Select(v => (float)v).ToArray());
        var hRatios = sqrt(ratios);
        var wRatios = 1 / hRatios;
        var ws = (wRatios.unsqueeze(1) * s.unsqueeze(0)).view(-1);
        var hs = (hRatios.unsqueeze(1) * s.unsqueeze(0)).view(-1);
        return (stack([-ws, -hs, ws, hs], 1) / 2).round().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The anchors of each image of <paramref name="images"/> (the padded batch [N, C, H, W]; only its size is read)
    /// for <paramref name="featureMaps"/>: one [Σ H·W·A, 4] tensor per image, levels in order, in the maps' dtype and
    /// device. Each map's stride is the image size integer-divided by its size.
    /// </summary>
    public override List<Tensor> forward(Tensor images, IReadOnlyList<Tensor> featureMaps)
    {
        if (featureMaps.Count != _cellAnchors.Count)
            throw new ArgumentException($"AnchorGenerator: {featureMaps.Count} feature maps but anchors for {_cellAnchors.Count} levels", nameof(featureMaps));
        using var scope = NewDisposeScope();
        long imageH = images.shape[^2], imageW = images.shape[^1];
        var gridSizes = featureMaps.Select(f => (f.shape[^2], f.shape[^1])).ToList();
        var strides = gridSizes.Select(g => (imageH / g.Item1, imageW / g.Item2)).ToList();
        var levels = GridAnchors(gridSizes, strides, featureMaps[0].dtype, featureMaps[0].device);
        var result = new List<Tensor>();
        for (long i = 0; i < images.shape[0]; i++) result.Add(cat(levels, 0).MoveToOuterDisposeScope());
        return result;
    }

    /// <summary>grid_anchors: per level, every base anchor shifted to every cell (row-major cells, anchors within a cell).</summary>
    public List<Tensor> GridAnchors(IReadOnlyList<(long Height, long Width)> gridSizes, IReadOnlyList<(long Height, long Width)> strides, ScalarType dtype, Device device)
    {
        var anchors = new List<Tensor>();
        for (int level = 0; level < gridSizes.Count; level++)
        {
            using var scope = NewDisposeScope();
            var (gridH, gridW) = gridSizes[level];
            var baseAnchors = _cellAnchors[level].to(dtype, device);
            var shiftsX = arange(0, gridW, ScalarType.Int32, device) * strides[level].Width;
            var shiftsY = arange(0, gridH, ScalarType.Int32, device) * strides[level].Height;
            var grid = meshgrid([shiftsY, shiftsX], indexing: "ij");
            var shiftX = grid[1].reshape(-1);
            var shiftY = grid[0].reshape(-1);
            var shifts = stack([shiftX, shiftY, shiftX, shiftY], 1);
            anchors.Add((shifts.view(-1, 1, 4) + baseAnchors.view(1, -1, 4)).reshape(-1, 4).MoveToOuterDisposeScope());
        }
        return anchors;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) foreach (var t in _cellAnchors) t.Dispose();
        base.Dispose(disposing);
    }
}
