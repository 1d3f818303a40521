using Backbones.Vision;
using Colour = (byte R, byte G, byte B);

namespace Backbones.Training;

/// <summary>
/// An RGB picture the training charts and detection pictures draw on: filled rectangles, anti-aliased lines and dots, bitmap
/// text (upright or turned to read upwards), saved as PNG. Coordinates are continuous: pixel (i, j) covers [i, i + 1) × [j, j + 1).
/// </summary>
internal sealed class ChartCanvas
{
    readonly byte[] _rgb;

    public ChartCanvas(int width, int height, Colour background)
    {
        Width = width;
        Height = height;
        _rgb = new byte[checked(width * height * 3)];
        Fill(0, 0, width, height, background);
    }

    /// <summary>A canvas over a copy of a picture: <paramref name="rgb"/> is height × width × RGB bytes.</summary>
    public ChartCanvas(int width, int height, byte[] rgb)
    {
        if (rgb.Length != (long)width * height * 3) throw new ArgumentException($"{rgb.Length} bytes are not {width} × {height} × 3", nameof(rgb));
        Width = width;
        Height = height;
        _rgb = (byte[])rgb.Clone();
    }

    public int Width { get; }

    public int Height { get; }

    public void Fill(int x, int y, int width, int height, Colour colour)
    {
        for (int j = Math.Max(y, 0); j < Math.Min(y + height, Height); j++)
            for (int i = Math.Max(x, 0); i < Math.Min(x + width, Width); i++)
                Set(i, j, colour);
    }

    /// <summary>A one-pixel outline just inside the rectangle.</summary>
    public void Frame(int x, int y, int width, int height, Colour colour)
    {
        Fill(x, y, width, 1, colour);
        Fill(x, y + height - 1, width, 1, colour);
        Fill(x, y, 1, height, colour);
        Fill(x + width - 1, y, 1, height, colour);
    }

    /// <summary>
    /// A polyline <paramref name="width"/> pixels wide with round joins and ends; with <paramref name="dash"/> &gt; 0,
    /// dashes that long with gaps of 0.7 × dash, continued across the corners.
    /// </summary>
    public void Stroke(IReadOnlyList<(double X, double Y)> points, Colour colour, double width, double dash = 0)
    {
        if (points.Count < 2) return;
        double reach = width / 2 + 1;
        int x0 = Math.Max(0, (int)Math.Floor(points.Min(p => p.X) - reach)), x1 = Math.Min(Width, (int)Math.Ceiling(points.Max(p => p.X) + reach));
        int y0 = Math.Max(0, (int)Math.Floor(points.Min(p => p.Y) - reach)), y1 = Math.Min(Height, (int)Math.Ceiling(points.Max(p => p.Y) + reach));
        if (x1 <= x0 || y1 <= y0) return;
        // Coverage is the maximum over segments, so joins are not painted twice and do not darken.
        var coverage = new float[(x1 - x0) * (y1 - y0)];
        double along = 0, period = dash * 1.7;
        for (int s = 0; s + 1 < points.Count; s++)
        {
            var (ax, ay) = points[s];
            var (bx, by) = points[s + 1];
            double dx = bx - ax, dy = by - ay, length2 = dx * dx + dy * dy, length = Math.Sqrt(length2);
            int sx0 = Math.Max(x0, (int)Math.Floor(Math.Min(ax, bx) - reach)), sx1 = Math.Min(x1, (int)Math.Ceiling(Math.Max(ax, bx) + reach));
            int sy0 = Math.Max(y0, (int)Math.Floor(Math.Min(ay, by) - reach)), sy1 = Math.Min(y1, (int)Math.Ceiling(Math.Max(ay, by) + reach));
            for (int j = sy0; j < sy1; j++)
                for (int i = sx0; i < sx1; i++)
                {
                    double px = i + 0.5 - ax, py = j + 0.5 - ay;
                    double t = length2 == 0 ? 0 : Math.Clamp((px * dx + py * dy) / length2, 0, 1);
                    double ex = px - t * dx, ey = py - t * dy;
                    double c = Math.Clamp(width / 2 + 0.5 - Math.Sqrt(ex * ex + ey * ey), 0, 1);
                    if (dash > 0 && c > 0)
                    {
                        double phase = (along + t * length) % period;
                        c = phase >= dash ? 0 : c * Math.Clamp(Math.Min(phase, dash - phase) + 0.5, 0, 1);
                    }
                    ref float cell = ref coverage[(j - y0) * (x1 - x0) + i - x0];
                    cell = Math.Max(cell, (float)c);
                }
            along += length;
        }
        for (int j = y0; j < y1; j++)
            for (int i = x0; i < x1; i++)
                Blend(i, j, colour, coverage[(j - y0) * (x1 - x0) + i - x0]);
    }

    public void Dot(double x, double y, double radius, Colour colour)
    {
        for (int j = Math.Max(0, (int)Math.Floor(y - radius - 1)); j < Math.Min(Height, (int)Math.Ceiling(y + radius + 1)); j++)
            for (int i = Math.Max(0, (int)Math.Floor(x - radius - 1)); i < Math.Min(Width, (int)Math.Ceiling(x + radius + 1)); i++)
            {
                double dx = i + 0.5 - x, dy = j + 0.5 - y;
                Blend(i, j, colour, Math.Clamp(radius + 0.5 - Math.Sqrt(dx * dx + dy * dy), 0, 1));
            }
    }

    /// <summary>Text whose top-left corner is (x, y).</summary>
    public void Text(BitmapFont font, int x, int y, string text, Colour colour)
    {
        for (int k = 0; k < text.Length; k++)
            for (int gy = 0; gy < font.Height; gy++)
                for (int gx = 0; gx < font.Width; gx++)
                    if (font.Ink(text[k], gx, gy)) SetClipped(x + k * font.Width + gx, y + gy, colour);
    }

    /// <summary>
    /// Text turned a quarter left, reading upwards, in the box whose top-left corner is (x, y): font.Height wide,
    /// font.Measure(text) tall, the first character at the bottom.
    /// </summary>
    public void TextUp(BitmapFont font, int x, int y, string text, Colour colour)
    {
        int length = font.Measure(text);
        for (int k = 0; k < text.Length; k++)
            for (int gy = 0; gy < font.Height; gy++)
                for (int gx = 0; gx < font.Width; gx++)
                    if (font.Ink(text[k], gx, gy)) SetClipped(x + gy, y + length - 1 - (k * font.Width + gx), colour);
    }

    public void SavePng(string path) => Heatmap.WritePng(path, _rgb, Width, Height);

    /// <summary>A copy of the picture, height × width × RGB bytes.</summary>
    public byte[] ToRgb() => (byte[])_rgb.Clone();

    void SetClipped(int x, int y, Colour colour)
    {
        if ((uint)x < (uint)Width && (uint)y < (uint)Height) Set(x, y, colour);
    }

    void Set(int x, int y, Colour colour)
    {
        int at = (y * Width + x) * 3;
        _rgb[at] = colour.R;
        _rgb[at + 1] = colour.G;
        _rgb[at + 2] = colour.B;
    }

    void Blend(int x, int y, Colour colour, double alpha)
    {
        if (alpha <= 0) return;
        int at = (y * Width + x) * 3;
        _rgb[at] = Mix(_rgb[at], colour.R, alpha);
        _rgb[at + 1] = Mix(_rgb[at + 1], colour.G, alpha);
        _rgb[at + 2] = Mix(_rgb[at + 2], colour.B, alpha);
    }

    static byte Mix(byte under, byte over, double alpha) => (byte)Math.Round(under + (over - under) * Math.Min(alpha, 1));
}
