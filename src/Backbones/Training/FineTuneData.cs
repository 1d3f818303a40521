using Backbones.Data;

namespace Backbones.Training;

/// <summary>
/// The training and validation images of a folder: its <c>train/</c> and <c>val/</c> subfolders when it has both (the
/// layout of torchvision's reference scripts), else one class folder per class split by a seed, stratified.
/// </summary>
public sealed record FineTuneData(ILabeledDataset Train, ILabeledDataset Validation, string Description)
{
    public IReadOnlyList<string> Classes => Train.Classes;

    public static FineTuneData FromFolder(string folder, double validationFraction = 0.2, ulong seed = 0)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"no data folder {folder}");
        string train = Path.Combine(folder, "train"), validation = Path.Combine(folder, "val");
        if (Directory.Exists(train) && Directory.Exists(validation))
        {
            var trainSet = new ImageFolderDataset(train);
            var validationSet = new ImageFolderDataset(validation);
            if (!trainSet.Classes.SequenceEqual(validationSet.Classes))
                throw new DatasetException(folder, $"train/ has the classes {string.Join(", ", trainSet.Classes)} but val/ has {string.Join(", ", validationSet.Classes)}");
            return new FineTuneData(trainSet, validationSet, $"{train}: {trainSet.Count} images; {validation}: {validationSet.Count} images; {trainSet.Classes.Count} classes");
        }
        var all = new ImageFolderDataset(folder);
        var split = DatasetSplit.Create(all, validationFraction, seed, stratified: true);
        return new FineTuneData(new DatasetSubset(all, split.Train), new DatasetSubset(all, split.Validation),
            $"{folder}: {all.Count} images in {all.Classes.Count} classes; {split}");
    }

    /// <summary>The images to score a trained model on: <c>val/</c> when the folder has one, else the whole folder.</summary>
    public static ILabeledDataset ForEvaluation(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"no data folder {folder}");
        string validation = Path.Combine(folder, "val");
        return new ImageFolderDataset(Directory.Exists(validation) && Directory.Exists(Path.Combine(folder, "train")) ? validation : folder);
    }
}
