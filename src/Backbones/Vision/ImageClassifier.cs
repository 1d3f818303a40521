using TorchSharp;
using Backbones.Onnx;
using static TorchSharp.torch;

namespace Backbones.Vision;

/// <summary>One class of a prediction: its index, its name and its softmax probability (0 to 1).</summary>
public sealed record Prediction(int Index, string Label, double Probability)
{
    public override string ToString() => $"{Probability * 100,7:F2}%  {Label} ({Index})";
}

/// <summary>The answer for one file: its top classes and logits, or why it could not be read.</summary>
public sealed record ClassifiedImage(ImageFile File, IReadOnlyList<Prediction> Top, float[] Logits, string? Problem)
{
    public bool Succeeded => Problem is null;
}

/// <summary>
/// Classifies image files with a model: decoding and preprocessing in parallel (<see cref="ImagePipeline"/>), the model
/// in eval mode without autograd on the caller's thread, softmax, the top classes by name. Unreadable files come out in
/// their place with their problem.
/// </summary>
public sealed class ImageClassifier(Func<Tensor, Tensor> logitsOf, ImagePreprocessing preprocessing, IReadOnlyList<string> labels)
{
    /// <summary>Classifies with <paramref name="model"/>'s own forward under libtorch (it is put in eval mode).</summary>
    public ImageClassifier(nn.Module<Tensor, Tensor> model, ImagePreprocessing preprocessing, IReadOnlyList<string> labels)
        : this(Eval(model).call, preprocessing, labels) { }

    /// <summary>Classifies with an inference engine (libtorch or ONNX Runtime) giving logits.</summary>
    public ImageClassifier(InferenceEngine engine, ImagePreprocessing preprocessing, IReadOnlyList<string> labels)
        : this(images => { using var outputs = engine.Run(images); return outputs.Output.clone(); }, preprocessing, labels)
    {
        if (engine.Options.Output != ModelOutput.Logits) throw new ArgumentException($"a classifier needs logits, the engine gives {engine.Options.Output}", nameof(engine));
    }

    static nn.Module<Tensor, Tensor> Eval(nn.Module<Tensor, Tensor> model)
    {
        model.eval();
        return model;
    }

    public ImagePreprocessing Preprocessing => preprocessing;

    public IReadOnlyList<string> Labels => labels;

    public IEnumerable<ClassifiedImage> Classify(IReadOnlyList<ImageFile> files, int topK = 5, ImagePipelineOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        foreach (var batch in ImagePipeline.Batches(files, preprocessing, options))
        {
            using (batch)
            {
                var results = new SortedDictionary<int, ClassifiedImage>();
                if (batch.Files.Count > 0)
                {
                    using var scope = NewDisposeScope();
                    Tensor logits;
                    using (inference_mode()) logits = logitsOf(batch.Images);
                    if (logits.dim() != 2 || logits.shape[1] != labels.Count)
                        throw new InvalidOperationException($"the model gives [{string.Join(", ", logits.shape)}] logits for {labels.Count} labels");
                    for (int row = 0; row < batch.Files.Count; row++)
                    {
                        var values = logits[row].data<float>().ToArray();
                        results[batch.Indices[row]] = new ClassifiedImage(batch.Files[row], TopK(logits[row], topK, labels), values, null);
                    }
                }
                foreach (var failure in batch.Failures) results[failure.Index] = new ClassifiedImage(failure.File, [], [], failure.Problem);
                // Back in input order: the batch's readable files and failures interleave as they did in the list.
                foreach (var result in results.Values) yield return result;
            }
        }
    }

    /// <summary>The <paramref name="k"/> most probable classes of one row of logits, highest first, with softmax probabilities.</summary>
    public static IReadOnlyList<Prediction> TopK(Tensor logits, int k, IReadOnlyList<string> labels)
    {
        using var scope = NewDisposeScope();
        var probabilities = nn.functional.softmax(logits.to_type(ScalarType.Float64), -1);
        var (values, indices) = probabilities.topk(Math.Min(k, (int)probabilities.shape[^1]));
        var p = values.data<double>().ToArray();
        var index = indices.data<long>().ToArray();
        return index.Select((c, i) => new Prediction((int)c, labels[(int)c], p[i])).ToList();
    }
}
