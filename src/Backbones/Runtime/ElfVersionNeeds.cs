using System.Buffers.Binary;
using System.Text;

namespace Backbones.Runtime;

/// <summary>
/// Reads and edits the symbol-version tables of a 64-bit little-endian ELF shared object:
/// the versions it needs from other libraries (.gnu.version_r) and the ones it defines (.gnu.version_d).
/// </summary>
internal static class ElfVersionNeeds
{
    /// <summary>One version a library needs from another, and where its flags live in the file.</summary>
    internal readonly record struct VersionNeed(string File, string Version, ushort Flags, ushort Index, int FlagsOffset)
    {
        public bool IsWeak => (Flags & WeakFlag) != 0;
    }

    /// <summary>VER_FLG_WEAK: the dynamic loader only warns when a weak version need is missing.</summary>
    internal const ushort WeakFlag = 0x2;

    const uint ShtGnuVerdef = 0x6ffffffd;
    const uint ShtGnuVerneed = 0x6ffffffe;
    const uint ShtDynamic = 6;
    const uint ShtDynsym = 11;
    const uint ShtGnuVersym = 0x6fffffff;
    const long DtNeeded = 1;

    public static IReadOnlyList<VersionNeed> ReadNeeds(ReadOnlySpan<byte> elf)
    {
        var needs = new List<VersionNeed>();
        foreach (var (section, strings) in SectionsOfType(elf, ShtGnuVerneed))
        {
            int count = checked((int)section.Info);
            int entry = checked((int)section.Offset);
            for (int i = 0; i < count; i++)
            {
                ushort auxCount = U16(elf, entry + 2);
                string file = CString(elf, strings, U32(elf, entry + 4));
                int aux = checked(entry + (int)U32(elf, entry + 8));
                for (int j = 0; j < auxCount; j++)
                {
                    needs.Add(new VersionNeed(file, CString(elf, strings, U32(elf, aux + 8)), U16(elf, aux + 4), U16(elf, aux + 6), aux + 4));
                    uint nextAux = U32(elf, aux + 12);
                    if (nextAux == 0) break;
                    aux = checked(aux + (int)nextAux);
                }
                uint next = U32(elf, entry + 12);
                if (next == 0) break;
                entry = checked(entry + (int)next);
            }
        }
        return needs;
    }

    public static IReadOnlySet<string> ReadDefinitions(ReadOnlySpan<byte> elf)
    {
        var defined = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (section, strings) in SectionsOfType(elf, ShtGnuVerdef))
        {
            int count = checked((int)section.Info);
            int entry = checked((int)section.Offset);
            for (int i = 0; i < count; i++)
            {
                int aux = checked(entry + (int)U32(elf, entry + 12));
                defined.Add(CString(elf, strings, U32(elf, aux)));
                uint next = U32(elf, entry + 16);
                if (next == 0) break;
                entry = checked(entry + (int)next);
            }
        }
        return defined;
    }

    /// <summary>The DT_NEEDED library names, in the order the loader reads them.</summary>
    public static IReadOnlyList<string> ReadNeededLibraries(ReadOnlySpan<byte> elf)
    {
        var names = new List<string>();
        foreach (var (section, strings) in SectionsOfType(elf, ShtDynamic))
        {
            for (long at = section.Offset; at + 16 <= section.Offset + section.Size; at += 16)
            {
                long tag = (long)U64(elf, checked((int)at));
                if (tag == 0) break;
                if (tag == DtNeeded) names.Add(CString(elf, strings, (uint)U64(elf, checked((int)at + 8))));
            }
        }
        return names;
    }

    /// <summary>Names of the dynamic symbols bound to the version need with this index (vna_other).</summary>
    public static IReadOnlyList<string> SymbolsOfVersion(ReadOnlySpan<byte> elf, ushort versionIndex)
    {
        var names = new List<string>();
        var sections = ReadSections(elf);
        var versym = sections.FirstOrDefault(s => s.Type == ShtGnuVersym);
        foreach (var (dynsym, strings) in SectionsOfType(elf, ShtDynsym))
        {
            long count = dynsym.Size / 24;
            if (versym.Size < count * 2) throw new InvalidDataException("ELF symbol-version table shorter than the symbol table");
            for (long i = 0; i < count; i++)
            {
                ushort version = (ushort)(U16(elf, checked((int)(versym.Offset + i * 2))) & 0x7fff);
                if (version == versionIndex)
                    names.Add(CString(elf, strings, U32(elf, checked((int)(dynsym.Offset + i * 24)))));
            }
        }
        return names;
    }

    /// <summary>Sets VER_FLG_WEAK on the given needs, in place.</summary>
    public static void MarkWeak(Span<byte> elf, IEnumerable<VersionNeed> needs)
    {
        foreach (var need in needs)
            BinaryPrimitives.WriteUInt16LittleEndian(elf.Slice(need.FlagsOffset, 2), (ushort)(need.Flags | WeakFlag));
    }

    readonly record struct Section(uint Type, long Offset, long Size, uint Link, uint Info);

    static IEnumerable<(Section Section, Section Strings)> SectionsOfType(ReadOnlySpan<byte> elf, uint type)
    {
        var sections = ReadSections(elf);
        var found = new List<(Section, Section)>();
        foreach (var s in sections)
            if (s.Type == type && s.Link < sections.Count)
                found.Add((s, sections[(int)s.Link]));
        return found;
    }

    static List<Section> ReadSections(ReadOnlySpan<byte> elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("not a 64-bit little-endian ELF file");
        long shoff = (long)U64(elf, 0x28);
        int shentsize = U16(elf, 0x3a);
        int shnum = U16(elf, 0x3c);
        if (shentsize < 64 || shoff <= 0 || shoff + (long)shentsize * shnum > elf.Length)
            throw new InvalidDataException("ELF section table lies outside the file");
        var list = new List<Section>(shnum);
        for (int i = 0; i < shnum; i++)
        {
            int at = checked((int)(shoff + (long)i * shentsize));
            var s = new Section(U32(elf, at + 4), (long)U64(elf, at + 0x18), (long)U64(elf, at + 0x20), U32(elf, at + 0x28), U32(elf, at + 0x2c));
            if (s.Type != 8 /* NOBITS */ && (s.Offset < 0 || s.Size < 0 || s.Offset + s.Size > elf.Length))
                throw new InvalidDataException($"ELF section {i} lies outside the file");
            list.Add(s);
        }
        return list;
    }

    static string CString(ReadOnlySpan<byte> elf, Section strings, uint offset)
    {
        long start = strings.Offset + offset;
        if (offset >= strings.Size) throw new InvalidDataException("ELF string offset outside its table");
        var rest = elf.Slice(checked((int)start), checked((int)(strings.Size - offset)));
        int end = rest.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? rest : rest[..end]);
    }

    static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(at, 2));
    static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(at, 4));
    static ulong U64(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.Slice(at, 8));
}
