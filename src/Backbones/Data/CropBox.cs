namespace Backbones.Data;

/// <summary>A rectangle of an image in pixels, as torchvision's crop parameters <c>(i, j, h, w)</c>: top row, left column, height, width.</summary>
public readonly record struct CropBox(int Top, int Left, int Height, int Width)
{
    public override string ToString() => $"{Height}×{Width} at ({Top}, {Left})";
}
