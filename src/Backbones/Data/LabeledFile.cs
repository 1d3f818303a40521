namespace Backbones.Data;

/// <summary>One sample of a file-backed dataset: the image file and its class index, as a pair of torchvision's <c>samples</c>.</summary>
public sealed record LabeledFile(string Path, int Label);
