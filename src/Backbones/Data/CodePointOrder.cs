namespace Backbones.Data;

/// <summary>
/// Orders strings by Unicode code point, as Python's <c>sorted</c> does. Ordinal order differs only where a character
/// above U+FFFF (a surrogate pair in UTF-16) meets one in U+E000..U+FFFF.
/// </summary>
internal sealed class CodePointOrder : IComparer<string>
{
    public static CodePointOrder Instance { get; } = new();

    public int Compare(string? x, string? y)
    {
        if (x is null || y is null) return x is null ? (y is null ? 0 : -1) : 1;
        int n = Math.Min(x.Length, y.Length);
        for (int i = 0; i < n; i++)
        {
            if (x[i] != y[i]) return Fix(x[i]).CompareTo(Fix(y[i]));
        }
        return x.Length.CompareTo(y.Length);
    }

    // Surrogates (D800..DFFF) move above E000..FFFF, which moves down: code-unit order then equals code-point order.
    static int Fix(char c) => c < 0xD800 ? c : c < 0xE000 ? c + 0x2000 : c - 0x800;
}
