namespace Backbones.Tests.Transfer;

/// <summary>
/// Small inputs for checking every model's feature maps, and the spatial size a stride promises: exact for the families
/// whose convolutions are padded (64 × 96 px), nominal within 15 % or a pixel for AlexNet and SqueezeNet (224 × 192 px).
/// </summary>
internal static class FeatureShapes
{
    public static (int Height, int Width, bool Exact) InputFor(string model) =>
        model == "alexnet" || model.StartsWith("squeezenet", StringComparison.Ordinal) ? (224, 192, false) : (64, 96, true);

    public static void AssertSpatial(string what, long[] shape, int height, int width, long reduction, bool exact)
    {
        foreach (var (actual, size) in new[] { (shape[2], height), (shape[3], width) })
        {
            double nominal = (double)size / reduction;
            if (exact) Assert.True(actual == nominal, $"{what}: {actual} px for stride {reduction} of {size} px");
            else Assert.True(Math.Abs(actual - nominal) <= Math.Max(1, 0.15 * nominal), $"{what}: {actual} px for stride {reduction} of {size} px");
        }
    }
}
