using Backbones.Tests.Support;
using Backbones.Training;
using Backbones.Vision;

namespace Backbones.Tests.Training;

/// <summary>The training charts read back through the project's PNG decoder: sizes, where each series' colour lands, cell shades.</summary>
public class TrainingChartsTests
{
    static readonly (byte, byte, byte) EmptyCell = (247, 251, 255), FullCell = (8, 48, 107);

    [Fact]
    public void CurvesDrawLossOnTheLeftAndAccuracyOnTheRight()
    {
        var picture = Curves(Run(10));

        Assert.Equal((1200, 480), (picture.Width, picture.Height));
        var loss = TrainingCharts.CurvesPlotArea(0);
        var accuracy = TrainingCharts.CurvesPlotArea(1);
        Assert.True(picture.Count(TrainingCharts.TrainLossColour, loss) > 100, "train loss missing from the loss panel");
        Assert.True(picture.Count(TrainingCharts.ValidationLossColour, loss) > 100, "validation loss missing from the loss panel");
        Assert.True(picture.Count(TrainingCharts.TrainAccuracyColour, accuracy) > 100, "train accuracy missing from the accuracy panel");
        Assert.True(picture.Count(TrainingCharts.ValidationAccuracyColour, accuracy) > 100, "validation accuracy missing from the accuracy panel");
        Assert.True(picture.Count(TrainingCharts.ValidationTop5Colour, accuracy) > 20, "validation top-5 missing from the accuracy panel");
        var rightHalf = (600, 0, 1200, 480);
        var leftHalf = (0, 0, 600, 480);
        Assert.Equal(0, picture.Count(TrainingCharts.TrainLossColour, rightHalf));
        Assert.Equal(0, picture.Count(TrainingCharts.ValidationLossColour, rightHalf));
        Assert.Equal(0, picture.Count(TrainingCharts.TrainAccuracyColour, leftHalf));
        Assert.Equal(0, picture.Count(TrainingCharts.ValidationAccuracyColour, leftHalf));
    }

    /// <summary>
    /// The train loss falls from 2.0 to 0.2 and the validation loss from 2.1 to 0.5, so the axis spans 0.2 to 2.1 with 8%
    /// margins: the first train point sits (2.1 + 0.152 - 2.0) / 2.204 of the height from the top, the last one near the bottom.
    /// </summary>
    [Fact]
    public void DecreasingLossStartsHighAndEndsLow()
    {
        var picture = Curves(Run(10));
        var (left, top, right, bottom) = TrainingCharts.CurvesPlotArea(0);
        var columns = Enumerable.Range(left, right - left)
            .Select(x => (X: x, Ys: Enumerable.Range(top, bottom - top).Where(y => picture[x, y] == TrainingCharts.TrainLossColour).ToArray()))
            .Where(c => c.Ys.Length > 0).ToArray();
        double first = columns[0].Ys.Average(), last = columns[^1].Ys.Average();
        double height = bottom - top, expectedFirst = top + (2.1 + 0.152 - 2.0) / 2.204 * height, expectedLast = top + (2.1 + 0.152 - 0.2) / 2.204 * height;
        Assert.True(first < last, $"first point y {first:F1}, last {last:F1}");
        Assert.InRange(first, expectedFirst - 2, expectedFirst + 2);
        Assert.InRange(last, expectedLast - 2, expectedLast + 2);
    }

    [Fact]
    public void OneEpochDrawsADot()
    {
        var picture = Curves(Run(1));
        var area = TrainingCharts.CurvesPlotArea(0);
        var inked = picture.Where(TrainingCharts.TrainLossColour, area).ToArray();
        Assert.InRange(inked.Length, 15, 40);
        Assert.True(inked.Max(p => p.X) - inked.Min(p => p.X) <= 7 && inked.Max(p => p.Y) - inked.Min(p => p.Y) <= 7, "one epoch should draw a dot, not a line");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(200)]
    public void ManyEpochsDrawEveryPanel(int count)
    {
        var picture = Curves(Run(count));
        Assert.Equal((1200, 480), (picture.Width, picture.Height));
        Assert.True(picture.Count(TrainingCharts.TrainLossColour, TrainingCharts.CurvesPlotArea(0)) > 100);
        Assert.True(picture.Count(TrainingCharts.ValidationAccuracyColour, TrainingCharts.CurvesPlotArea(1)) > 100);
    }

    [Fact]
    public void CurvesLeaveOutMissingValidation()
    {
        var epochs = Run(5).Select(e => e with { ValidationLoss = double.NaN, ValidationAccuracy = double.NaN, ValidationTop5 = double.NaN }).ToArray();
        var picture = Curves(epochs);
        Assert.Equal(0, picture.Count(TrainingCharts.ValidationLossColour, (0, 0, 1200, 480)));
        Assert.Equal(0, picture.Count(TrainingCharts.ValidationTop5Colour, (0, 0, 1200, 480)));
        Assert.True(picture.Count(TrainingCharts.TrainLossColour, TrainingCharts.CurvesPlotArea(0)) > 100);
    }

    [Fact]
    public void DiagonalMatrixShadesOnlyTheDiagonal()
    {
        var matrix = Matrix(4, (0, 0, 5), (1, 1, 7), (2, 2, 3), (3, 3, 9));
        var shades = CellShades(matrix);
        for (int t = 0; t < 4; t++)
            for (int p = 0; p < 4; p++)
                Assert.Equal(t == p ? FullCell : EmptyCell, shades[t, p]);
    }

    [Fact]
    public void OneOffDiagonalCountShadesExactlyThatCell()
    {
        var matrix = Matrix(3, (2, 0, 4));
        var shades = CellShades(matrix);
        for (int t = 0; t < 3; t++)
            for (int p = 0; p < 3; p++)
                Assert.Equal(t == 2 && p == 0 ? FullCell : EmptyCell, shades[t, p]);
    }

    /// <summary>Row 0 is 30 : 10 and row 1 is 1 : 3: both 0.75 cells get one shade, both 0.25 cells another, lighter.</summary>
    [Fact]
    public void ShadesByShareOfTheRowNotByCount()
    {
        var shades = CellShades(Matrix(2, (0, 0, 30), (0, 1, 10), (1, 0, 1), (1, 1, 3)));
        Assert.Equal(shades[0, 0], shades[1, 1]);
        Assert.Equal(shades[0, 1], shades[1, 0]);
        Assert.True(Sum(shades[0, 1]) > Sum(shades[0, 0]) + 150, $"0.25 {shades[0, 1]} should be much lighter than 0.75 {shades[0, 0]}");
        Assert.NotEqual(EmptyCell, shades[0, 1]);
    }

    /// <summary>
    /// A diagonal matrix of 2, 100 and 1000 classes: cells of 80, 6 and 1 px, diagonal full and the rest empty; the small
    /// cells carry no counts, so every pixel of the matrix is then exactly one of the two shades.
    /// </summary>
    [Theory]
    [InlineData(2, 80)]
    [InlineData(100, 6)]
    [InlineData(1000, 1)]
    public void ManyClassesDraw(int classes, int cellSide)
    {
        var matrix = Matrix(classes, Enumerable.Range(0, classes).Select(c => (c, c, 1 + c % 3)).ToArray());
        var (picture, left, top, cell) = Confusion(matrix);
        Assert.Equal(cellSide, cell);
        Assert.True(picture.Width >= left + classes * cell && picture.Height > top + classes * cell);
        for (int t = 0; t < classes; t++)
            for (int p = 0; p < classes; p++)
            {
                var expected = t == p ? FullCell : EmptyCell;
                if (cell >= 17)
                {
                    Assert.Equal(expected, Dominant(picture, left + p * cell, top + t * cell, cell));
                    continue;
                }
                for (int y = top + t * cell; y < top + (t + 1) * cell; y++)
                    for (int x = left + p * cell; x < left + (p + 1) * cell; x++)
                        if (picture[x, y] != expected) Assert.Fail($"pixel ({x}, {y}) of cell ({t}, {p}) is {picture[x, y]}, not {expected}");
            }
    }

    [Fact]
    public void EmptyEpochListIsRefused()
    {
        string path = Path.Combine(TempFolder.Create("charts"), "curves.png");
        var e = Assert.Throws<ArgumentException>(() => TrainingCharts.WriteCurves(path, []));
        Assert.Equal("epochs", e.ParamName);
        Assert.Contains("no epochs", e.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void AccuracyGivenAsPercentIsRefused()
    {
        var epochs = Run(3);
        epochs[1] = epochs[1] with { ValidationAccuracy = 85 };
        var e = Assert.Throws<ArgumentException>(() => TrainingCharts.WriteCurves(Path.Combine(TempFolder.Create("charts"), "curves.png"), epochs));
        Assert.Contains($"epoch {epochs[1].Epoch}: val_acc is 85", e.Message);
    }

    [Fact]
    public void UnwritablePathThrowsIOExceptionAndLeavesNothing()
    {
        string folder = TempFolder.Create("charts");
        string directoryInTheWay = Path.Combine(folder, "curves.png");
        Directory.CreateDirectory(directoryInTheWay);
        var e = Assert.Throws<IOException>(() => TrainingCharts.WriteCurves(directoryInTheWay, Run(3)));
        Assert.Contains(directoryInTheWay, e.Message);
        File.WriteAllText(Path.Combine(folder, "a-file"), "not a folder");
        string underAFile = Path.Combine(folder, "a-file", "confusion.png");
        e = Assert.Throws<IOException>(() => TrainingCharts.WriteConfusion(underAFile, Matrix(2, (0, 0, 1))));
        Assert.Contains(underAFile, e.Message);

        Assert.Equal(["a-file", "curves.png"], Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).Order());
        Assert.Empty(Directory.EnumerateFileSystemEntries(directoryInTheWay));
        Assert.Equal("not a folder", File.ReadAllText(Path.Combine(folder, "a-file")));
    }

    static EpochMetrics[] Run(int count) => Enumerable.Range(1, count).Select(i =>
    {
        double f = count == 1 ? 0 : (i - 1) / (double)(count - 1);
        return new EpochMetrics(i, 2.0 - 1.8 * f, 0.4 + 0.5 * f, 2.1 - 1.6 * f, 0.35 + 0.5 * f, 0.7 + 0.25 * f,
            new Dictionary<string, double> { ["head"] = 0.01 }, 10, 100);
    }).ToArray();

    static ConfusionMatrix Matrix(int classes, params (int Truth, int Predicted, int Count)[] counts)
    {
        var matrix = new ConfusionMatrix(Enumerable.Range(0, classes).Select(c => $"class {c}").ToArray());
        foreach (var (t, p, n) in counts)
            for (int k = 0; k < n; k++) matrix.Add(t, p);
        return matrix;
    }

    static Picture Curves(IReadOnlyList<EpochMetrics> epochs)
    {
        string path = Path.Combine(TempFolder.Create("charts"), "curves.png");
        TrainingCharts.WriteCurves(path, epochs, "test run");
        return new Picture(ImageDecoder.Decode(path));
    }

    static (Picture Picture, int Left, int Top, int Cell) Confusion(ConfusionMatrix matrix)
    {
        string path = Path.Combine(TempFolder.Create("charts"), "confusion.png");
        TrainingCharts.WriteConfusion(path, matrix, "test run");
        var (left, top, cell) = TrainingCharts.ConfusionCells(matrix, "test run");
        return (new Picture(ImageDecoder.Decode(path)), left, top, cell);
    }

    static (byte, byte, byte)[,] CellShades(ConfusionMatrix matrix)
    {
        var (picture, left, top, cell) = Confusion(matrix);
        int n = matrix.Classes.Count;
        var shades = new (byte, byte, byte)[n, n];
        for (int t = 0; t < n; t++)
            for (int p = 0; p < n; p++) shades[t, p] = Dominant(picture, left + p * cell, top + t * cell, cell);
        return shades;
    }

    /// <summary>The most frequent colour of a cell: its shade, whatever count is written on it.</summary>
    static (byte, byte, byte) Dominant(Picture picture, int x, int y, int side) =>
        Enumerable.Range(0, side * side).Select(i => picture[x + i % side, y + i / side]).GroupBy(c => c).MaxBy(g => g.Count())!.Key;

    static int Sum((byte R, byte G, byte B) c) => c.R + c.G + c.B;

    sealed class Picture(DecodedImage image)
    {
        readonly byte[] _rgb = image.Pixels8!;

        public int Width => image.Width;

        public int Height => image.Height;

        public (byte, byte, byte) this[int x, int y] => (_rgb[(y * Width + x) * 3], _rgb[(y * Width + x) * 3 + 1], _rgb[(y * Width + x) * 3 + 2]);

        public IEnumerable<(int X, int Y)> Where((byte, byte, byte) colour, (int Left, int Top, int Right, int Bottom) area) =>
            from y in Enumerable.Range(area.Top, area.Bottom - area.Top)
            from x in Enumerable.Range(area.Left, area.Right - area.Left)
            where this[x, y] == colour
            select (x, y);

        public int Count((byte, byte, byte) colour, (int, int, int, int) area) => Where(colour, area).Count();
    }
}
