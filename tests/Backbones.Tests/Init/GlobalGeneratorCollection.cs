namespace Backbones.Tests.Init;

/// <summary>
/// Tests that seed torch's process-wide generator and need its stream to themselves (constructors draw from it):
/// xunit runs this collection alone, after the parallel ones.
/// </summary>
[CollectionDefinition(nameof(GlobalGeneratorCollection), DisableParallelization = true)]
public sealed class GlobalGeneratorCollection;
