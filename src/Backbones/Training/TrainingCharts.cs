using System.Globalization;
using Colour = (byte R, byte G, byte B);

namespace Backbones.Training;

/// <summary>
/// The pictures of a fine-tuning run as PNG: curves (loss and accuracy per epoch, train and validation) and the validation
/// confusion matrix, drawn in C# with a built-in bitmap font, so they need no plotting library and no installed font.
/// </summary>
public static class TrainingCharts
{
    internal const int CurvesWidth = 1200, CurvesHeight = 480;
    // matplotlib's tab10 colours, one for each series so a colour says which panel and line it is; top-5 is validation's, lighter.
    internal static readonly Colour TrainLossColour = (31, 119, 180), ValidationLossColour = (255, 127, 14);
    internal static readonly Colour TrainAccuracyColour = (44, 160, 44), ValidationAccuracyColour = (214, 39, 40), ValidationTop5Colour = (240, 150, 150);

    static readonly Colour White = (255, 255, 255), Ink = (25, 25, 25), Axis = (100, 100, 100), Grid = (230, 230, 230), Faint = (175, 175, 175);

    // matplotlib's "Blues" (ColorBrewer's nine steps), from an empty cell to a full one.
    static readonly Colour[] Blues =
        [(247, 251, 255), (222, 235, 247), (198, 219, 239), (158, 202, 225), (107, 174, 214), (66, 146, 198), (33, 113, 181), (8, 81, 156), (8, 48, 107)];

    static BitmapFont Regular => BitmapFont.Regular;

    /// <summary>
    /// Writes <paramref name="path"/> as a 1200 × 480 PNG, atomically: loss per epoch on the left (train blue, validation
    /// orange), accuracy in % on the right (train green, validation red, validation top-5 dashed light red), under a title
    /// line of <paramref name="title"/>, the epoch count and the best validation accuracy. Non-finite values are left out.
    /// </summary>
    public static void WriteCurves(string path, IReadOnlyList<EpochMetrics> epochs, string? title = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(epochs);
        if (epochs.Count == 0) throw new ArgumentException("no epochs to draw: the list of epoch metrics is empty", nameof(epochs));
        for (int i = 0; i < epochs.Count; i++)
        {
            var e = epochs[i] ?? throw new ArgumentException($"the epoch metrics at index {i} are null", nameof(epochs));
            CheckFraction(e, "train_acc", e.TrainAccuracy);
            CheckFraction(e, "val_acc", e.ValidationAccuracy);
            CheckFraction(e, "val_top5", e.ValidationTop5);
        }

        var sorted = epochs.OrderBy(e => e.Epoch).ToArray();
        var canvas = new ChartCanvas(CurvesWidth, CurvesHeight, White);
        var best = sorted.Where(e => double.IsFinite(e.ValidationAccuracy)).MaxBy(e => e.ValidationAccuracy);
        string summary = $"{sorted.Length} epoch{(sorted.Length == 1 ? "" : "s")}" +
            (best is null ? "" : $", best validation accuracy {Percent(best.ValidationAccuracy)} at epoch {best.Epoch}");
        Centred(canvas, BitmapFont.Title, CurvesWidth / 2, 14, $"{title ?? "Training curves"}: {summary}", Ink, CurvesWidth - 32);

        double[] x = sorted.Select(e => (double)e.Epoch).ToArray();
        DrawPanel(canvas, 0, "Loss", "loss", x, percent: false,
            new Series("train", TrainLossColour, sorted.Select(e => e.TrainLoss).ToArray()),
            new Series("validation", ValidationLossColour, sorted.Select(e => e.ValidationLoss).ToArray()));
        DrawPanel(canvas, 1, "Accuracy", "accuracy (%)", x, percent: true,
            new Series("train", TrainAccuracyColour, sorted.Select(e => 100 * e.TrainAccuracy).ToArray()),
            new Series("validation", ValidationAccuracyColour, sorted.Select(e => 100 * e.ValidationAccuracy).ToArray()),
            new Series("validation top-5", ValidationTop5Colour, sorted.Select(e => 100 * e.ValidationTop5).ToArray(), Dashed: true));
        Save(canvas, path);
    }

    /// <summary>
    /// Writes <paramref name="path"/> as a PNG, atomically: rows are the true classes, columns the predicted ones, each cell
    /// shaded by its share of the row (white 0 to dark blue 1) with its count written in it while the counts fit, class
    /// names on both axes (every k-th when the cells are too small for each), a colour bar, and a title line of
    /// <paramref name="title"/> with the overall accuracy. Cells are 80 px for 2 classes, 64 for 10, 6 for 100, 1 from 640 on.
    /// </summary>
    public static void WriteConfusion(string path, ConfusionMatrix matrix, string? title = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(matrix);
        var layout = LayOut(matrix, title);
        int n = layout.Labels.Length, cell = layout.Cell, left = layout.Left, top = layout.Top, side = n * cell;
        var canvas = new ChartCanvas(layout.Width, layout.Height, White);
        Centred(canvas, BitmapFont.Title, layout.Width / 2, 16, layout.Title, Ink, layout.Width - 32);

        var rows = matrix.Rows();
        for (int t = 0; t < n; t++)
        {
            long total = rows[t].Sum();
            for (int p = 0; p < n; p++)
            {
                double share = total == 0 ? 0 : rows[t][p] / (double)total;
                canvas.Fill(left + p * cell, top + t * cell, cell, cell, Shade(share));
                if (!layout.Counts) continue;
                string count = rows[t][p].ToString(CultureInfo.InvariantCulture);
                var colour = share > 0.5 ? White : rows[t][p] == 0 ? Faint : Ink;
                int x = left + p * cell + (cell - Regular.Measure(count) + 1) / 2, y = top + t * cell + (cell - Regular.Height + 1) / 2;
                canvas.Text(Regular, x, y, count, colour);
            }
        }
        canvas.Frame(left - 1, top - 1, side + 2, side + 2, Axis);

        for (int i = 0; i < n; i += layout.Every)
        {
            string label = layout.Labels[i];
            int middle = i * cell + cell / 2, width = Regular.Measure(label);
            canvas.Fill(left - 5, top + middle, 4, 1, Axis);
            canvas.Text(Regular, left - 8 - width, top + middle - Regular.Height / 2, label, Ink);
            canvas.Fill(left + middle, top + side + 1, 1, 4, Axis);
            if (layout.UprightColumns) canvas.Text(Regular, left + middle - width / 2, top + side + 8, label, Ink);
            else canvas.TextUp(Regular, left + middle - Regular.Height / 2, top + side + 8, label, Ink);
        }
        canvas.TextUp(BitmapFont.Bold, layout.RowTitleLeft, top + side / 2 - BitmapFont.Bold.Measure("true class") / 2, "true class", Ink);
        Centred(canvas, BitmapFont.Bold, left + side / 2, top + side + 8 + layout.ColumnLabelHeight + 10, "predicted class", Ink, int.MaxValue);

        // Colour bar: the share of the row, full at the top.
        int barLeft = left + side + 24;
        for (int j = 0; j < side; j++) canvas.Fill(barLeft, top + j, 14, 1, Shade(side == 1 ? 1 : 1 - j / (double)(side - 1)));
        canvas.Frame(barLeft - 1, top - 1, 16, side + 2, Axis);
        foreach (int percent in side >= 160 ? new[] { 0, 25, 50, 75, 100 } : [0, 100])
        {
            int y = top + (int)Math.Round((side - 1) * (1 - percent / 100.0));
            canvas.Fill(barLeft + 15, y, 3, 1, Axis);
            canvas.Text(Regular, barLeft + 21, y - Regular.Height / 2, $"{percent}%", Ink);
        }
        Save(canvas, path);
    }

    /// <summary>Where the confusion picture of <paramref name="matrix"/> puts its cells: the top-left corner of cell (0, 0) and the cell's side.</summary>
    internal static (int Left, int Top, int Cell) ConfusionCells(ConfusionMatrix matrix, string? title = null)
    {
        var layout = LayOut(matrix, title);
        return (layout.Left, layout.Top, layout.Cell);
    }

    /// <summary>The data area of the curves' panel 0 (loss) or 1 (accuracy), right and bottom exclusive.</summary>
    internal static (int Left, int Top, int Right, int Bottom) CurvesPlotArea(int panel) =>
        (panel * CurvesWidth / 2 + 84, 84, (panel + 1) * CurvesWidth / 2 - 28, CurvesHeight - 56);

    sealed record Series(string Label, Colour Colour, double[] Values, bool Dashed = false);

    sealed record ConfusionLayout(string Title, string[] Labels, int Cell, int Every, bool Counts, bool UprightColumns,
        int RowTitleLeft, int ColumnLabelHeight, int Left, int Top, int Width, int Height);

    static void DrawPanel(ChartCanvas canvas, int panel, string heading, string axisTitle, double[] epochs, bool percent, params Series[] all)
    {
        var (left, top, right, bottom) = CurvesPlotArea(panel);
        var series = all.Where(s => s.Values.Any(double.IsFinite)).ToArray(); // a run without validation draws no validation line
        var (xLow, xHigh) = EpochRange(epochs);
        var (yLow, yHigh) = ValueRange(series.SelectMany(s => s.Values).Where(double.IsFinite).ToArray());
        double X(double v) => left + (v - xLow) / (xHigh - xLow) * (right - left);
        double Y(double v) => bottom - (v - yLow) / (yHigh - yLow) * (bottom - top);

        double yStep = NiceStep((yHigh - yLow) / 6, integer: false);
        foreach (double t in Ticks(yLow, yHigh, yStep).Where(t => !percent || t is >= 0 and <= 100))
        {
            int y = (int)Math.Floor(Y(t));
            string label = Format(t, yStep);
            canvas.Fill(left, y, right - left, 1, Grid);
            canvas.Fill(left - 4, y, 4, 1, Axis);
            canvas.Text(Regular, left - 7 - Regular.Measure(label), y - Regular.Height / 2, label, Ink);
        }
        double xStep = NiceStep((xHigh - xLow) / 8, integer: true);
        foreach (double t in Ticks(xLow, xHigh, xStep).Where(t => t >= Math.Min(0, epochs[0])))
        {
            int x = (int)Math.Floor(X(t));
            string label = Format(t, 1);
            canvas.Fill(x, top, 1, bottom - top, Grid);
            canvas.Fill(x, bottom, 1, 4, Axis);
            canvas.Text(Regular, x - (Regular.Measure(label) - 1) / 2, bottom + 7, label, Ink);
        }
        canvas.Frame(left - 1, top - 1, right - left + 2, bottom - top + 2, Axis);

        bool markers = epochs.Length <= 40;
        foreach (var s in series)
        {
            var run = new List<(double X, double Y)>();
            for (int i = 0; i <= epochs.Length; i++)
            {
                if (i < epochs.Length && double.IsFinite(s.Values[i]))
                {
                    run.Add((X(epochs[i]), Y(s.Values[i])));
                    continue;
                }
                canvas.Stroke(run, s.Colour, s.Dashed ? 1.6 : 2, s.Dashed ? 6 : 0);
                if (run.Count == 1 || (markers && !s.Dashed))
                    foreach (var (px, py) in run) canvas.Dot(px, py, 3.2, s.Colour);
                run.Clear();
            }
        }

        int middle = (left + right) / 2;
        Centred(canvas, BitmapFont.Bold, middle, 38, heading, Ink, right - left);
        int legendWidth = series.Sum(s => 28 + Regular.Measure(s.Label)) + 22 * (series.Length - 1);
        int lx = middle - legendWidth / 2, ly = 60;
        foreach (var s in series)
        {
            canvas.Stroke([(lx, ly + 6.5), (lx + 22, ly + 6.5)], s.Colour, s.Dashed ? 1.6 : 2, s.Dashed ? 6 : 0);
            if (!s.Dashed) canvas.Dot(lx + 11, ly + 6.5, 3.2, s.Colour);
            canvas.Text(Regular, lx + 28, ly, s.Label, Ink);
            lx += 28 + Regular.Measure(s.Label) + 22;
        }
        canvas.TextUp(Regular, panel * CurvesWidth / 2 + 10, (top + bottom) / 2 - Regular.Measure(axisTitle) / 2, axisTitle, Ink);
        Centred(canvas, Regular, middle, bottom + 27, "epoch", Ink, right - left);
    }

    static ConfusionLayout LayOut(ConfusionMatrix matrix, string? title)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.Classes.Count;
        int cell = Math.Clamp(640 / n, 1, 80);
        int every = cell >= Regular.Height + 2 ? 1 : (Regular.Height + 2 + cell - 1) / cell;
        string[] labels = matrix.Classes.Select(c => Shorten(c ?? "", 24)).ToArray();
        int labelWidth = Enumerable.Range(0, n).Where(i => i % every == 0).Max(i => Regular.Measure(labels[i]));
        bool upright = every == 1 && labelWidth <= cell - 4;
        int columnLabelHeight = upright ? Regular.Height : labelWidth;
        long widest = matrix.Rows().SelectMany(r => r).DefaultIfEmpty(0).Max();
        bool counts = cell >= Regular.Height + 4 && Regular.Measure(widest.ToString(CultureInfo.InvariantCulture)) <= cell - 4;

        string line = $"{title ?? "Confusion matrix"}: " + (matrix.Total == 0 ? "no samples"
            : $"accuracy {Percent(matrix.Accuracy)} of {matrix.Total.ToString("N0", CultureInfo.InvariantCulture)} samples");
        // Left to right: "true class", row labels, the matrix, the colour bar and its labels; a long title widens the picture.
        int left = 12 + BitmapFont.Bold.Height + 10 + labelWidth + 8, top = 52;
        int natural = left + n * cell + 24 + 16 + 21 + Regular.Measure("100%") + 16;
        int width = Math.Max(natural, Math.Min(BitmapFont.Title.Measure(line) + 32, Math.Max(natural, 1200)));
        int height = top + n * cell + 8 + columnLabelHeight + 10 + BitmapFont.Bold.Height + 14;
        int shift = (width - natural) / 2;
        return new ConfusionLayout(line, labels, cell, every, counts, upright, 12 + shift, columnLabelHeight, left + shift, top, width, height);
    }

    static void CheckFraction(EpochMetrics e, string name, double value)
    {
        if (double.IsNaN(value) || value is >= 0 and <= 1) return;
        string shown = value.ToString(CultureInfo.InvariantCulture);
        throw new ArgumentException($"epoch {e.Epoch}: {name} is {shown}, but accuracies are fractions from 0 to 1", "epochs");
    }

    static (double Low, double High) EpochRange(double[] epochs)
    {
        double low = epochs[0], high = epochs[^1];
        if (high == low) return (low - 1, high + 1);
        double pad = (high - low) * 0.04;
        return (low - pad, high + pad);
    }

    static (double Low, double High) ValueRange(double[] values)
    {
        if (values.Length == 0) return (0, 1);
        double low = values.Min(), high = values.Max();
        double pad = high > low ? (high - low) * 0.08 : high != 0 ? Math.Abs(high) * 0.1 : 1;
        return (low - pad, high + pad);
    }

    /// <summary>1, 2, 2.5 or 5 times a power of ten, at least <paramref name="raw"/>; whole numbers 1, 2, 5, 10, 20, ... for epochs.</summary>
    static double NiceStep(double raw, bool integer)
    {
        double power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double[] steps = integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
        double step = steps.First(s => s * power >= raw * (1 - 1e-9)) * power;
        return integer ? Math.Max(1, Math.Round(step)) : step;
    }

    static IEnumerable<double> Ticks(double low, double high, double step)
    {
        for (long k = (long)Math.Ceiling(low / step); k * step <= high; k++) yield return k * step;
    }

    static string Format(double value, double step)
    {
        int decimals = 0;
        for (double scaled = step; decimals < 8 && Math.Abs(scaled - Math.Round(scaled)) > 1e-6 * Math.Max(1, scaled); scaled *= 10) decimals++;
        if (Math.Abs(value) < step * 1e-6) value = 0;
        return value.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    static string Percent(double fraction) => (100 * fraction).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    static string Shorten(string text, int characters) => text.Length <= characters ? text : text[..(characters - 2)] + "..";

    static Colour Shade(double share)
    {
        double at = Math.Clamp(share, 0, 1) * (Blues.Length - 1);
        int i = Math.Min((int)at, Blues.Length - 2);
        double f = at - i;
        static byte Lerp(byte a, byte b, double f) => (byte)Math.Round(a + (b - a) * f);
        return (Lerp(Blues[i].R, Blues[i + 1].R, f), Lerp(Blues[i].G, Blues[i + 1].G, f), Lerp(Blues[i].B, Blues[i + 1].B, f));
    }

    static void Centred(ChartCanvas canvas, BitmapFont font, int middle, int y, string text, Colour colour, int maxWidth)
    {
        if (font.Measure(text) > maxWidth) text = Shorten(text, Math.Max(3, maxWidth / font.Width));
        canvas.Text(font, middle - font.Measure(text) / 2, y, text, colour);
    }

    static void Save(ChartCanvas canvas, string path)
    {
        try
        {
            canvas.SavePng(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write the chart {path}: {e.Message}", e);
        }
    }
}
