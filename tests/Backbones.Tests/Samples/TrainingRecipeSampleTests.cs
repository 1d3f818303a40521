using System.Globalization;
using Backbones.Tests.Support;

namespace Backbones.Tests.Samples;

/// <summary>Recipes 5 and 6: frozen backbone with a new head, then per-group rates; biases at twice the rate without decay.</summary>
public class TrainingRecipeSampleTests
{
    static double Number(string figure) => double.Parse(figure.Split(' ')[0], CultureInfo.InvariantCulture);

    [Fact]
    public void FrozenResNetTrainsOnlyItsNewHeadThenEachGroupAtItsRate()
    {
        var (code, output, error) = Support.Samples.Run("FrozenResNetHead");
        Assert.True(code == 0, output + error);

        // ResNet-18: 11,689,512 parameters with the 1000-class fc (513,000); a 100-class fc has 512 × 100 + 100.
        Assert.StartsWith("trainable: 51,300 of 11,227,812 parameters", Support.Samples.Figure(output, "after the new head"));
        Assert.Equal("0 of 60", Support.Samples.Figure(output, "phase 1 frozen tensors changed"));
        Assert.Equal("2 of 2", Support.Samples.Figure(output, "phase 1 head tensors changed"));
        Assert.Matches(@"(?m)^head\s+0\.01\s+0\s+2\s+51,300$", output);
        Assert.Matches(@"(?m)^backbone\s+0\.001\s+0\s+60\s+11,176,512$", output);
        // SGD's first step is exactly lr × gradient: a wrong group rate would be off by 1e-5 or more.
        Assert.InRange(Number(Support.Samples.Figure(output, "phase 2 head max |update - lr x gradient|")), 0, 1e-7);
        Assert.InRange(Number(Support.Samples.Figure(output, "phase 2 backbone max |update - lr x gradient|")), 0, 1e-7);
    }

    [Fact]
    public void BiasesStepTwiceAsFarAsWeightsAndSkipDecay()
    {
        var (code, output, error) = Support.Samples.Run("BiasLearningRate");
        Assert.True(code == 0, output + error);

        // AlexNet with 10 classes: eight weight tensors and eight bias tensors (9,354 bias elements).
        Assert.Matches(@"(?m)^biases\s+0\.0002\s+0\s+8\s+9,354$", output);
        Assert.Matches(@"(?m)^weights\s+0\.0001\s+0\.0005\s+8\s+57,035,456$", output);
        // Adam's first step is about lr × sign(gradient) per element.
        Assert.InRange(Number(Support.Samples.Figure(output, "biases median step / lr")), 1.99, 2.0001);
        Assert.InRange(Number(Support.Samples.Figure(output, "weights median step / lr")), 0.99, 1.0001);
    }
}
