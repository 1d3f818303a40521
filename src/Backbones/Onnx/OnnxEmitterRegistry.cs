using Backbones.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Backbones.Onnx;

/// <summary>
/// Which emitter writes which module type (exact types only: a subclass may change the forward), and for each zoo
/// family how its forward splits into features and head. Filled once from the layer and family emitter files.
/// </summary>
internal sealed class OnnxEmitterRegistry
{
    /// <summary>A backbone's forward in its two halves, as <see cref="Backbone.ForwardFeatures"/> and <see cref="Backbone.ForwardHead"/>.</summary>
    public sealed record BackboneEmitter(
        Func<OnnxGraphContext, Backbone, string, OnnxValue, OnnxValue> Features,
        Func<OnnxGraphContext, Backbone, string, OnnxValue, bool, OnnxValue> Head);

    readonly Dictionary<Type, OnnxModuleEmitter> _modules = [];
    readonly Dictionary<Type, BackboneEmitter> _backbones = [];

    static readonly Lazy<OnnxEmitterRegistry> Builtin = new(() =>
    {
        var registry = new OnnxEmitterRegistry();
        LayerEmitters.Register(registry);
        ResNetEmitters.Register(registry);
        DenseNetEmitters.Register(registry);
        MobileNetEmitters.Register(registry);
        EfficientNetEmitters.Register(registry);
        ConvNeXtEmitters.Register(registry);
        ClassicEmitters.Register(registry);
        return registry;
    });

    /// <summary>The built-in emitters, plus (overriding them) the caller's.</summary>
    public static OnnxEmitterRegistry For(IReadOnlyDictionary<Type, OnnxModuleEmitter>? extra)
    {
        if (extra is null || extra.Count == 0) return Builtin.Value;
        var registry = new OnnxEmitterRegistry();
        foreach (var (type, emitter) in Builtin.Value._modules) registry._modules[type] = emitter;
        foreach (var (type, emitter) in Builtin.Value._backbones) registry._backbones[type] = emitter;
        foreach (var (type, emitter) in extra) registry._modules[type] = emitter;
        return registry;
    }

    public void Module<T>(Func<OnnxGraphContext, T, string, OnnxValue, OnnxValue> emit) where T : nn.Module
    {
        if (!_modules.TryAdd(typeof(T), (c, m, path, x) => emit(c, (T)m, path, x)))
            throw new InvalidOperationException($"two ONNX emitters for {typeof(T).FullName}");
    }

    /// <summary>Registers a family: its features and head, and the whole forward as the module emitter of its type.</summary>
    public void Backbone<T>(Func<OnnxGraphContext, T, string, OnnxValue, OnnxValue> features,
        Func<OnnxGraphContext, T, string, OnnxValue, bool, OnnxValue> head) where T : Backbone
    {
        _backbones.Add(typeof(T), new BackboneEmitter((c, m, path, x) => features(c, (T)m, path, x), (c, m, path, x, pre) => head(c, (T)m, path, x, pre)));
        Module<T>((c, m, path, x) => head(c, m, path, features(c, m, path, x), false));
    }

    public OnnxModuleEmitter? Find(Type type) => _modules.GetValueOrDefault(type);

    public BackboneEmitter? FindBackbone(Type type) => _backbones.GetValueOrDefault(type);
}
