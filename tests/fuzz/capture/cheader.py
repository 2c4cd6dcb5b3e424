"""cheader.py -- writes captured byte strings as a C header for the unit
tests (the captures also go to the fuzz corpus as files; the header lets
the tests run anywhere, Wine included, without finding files).

Each entry becomes { "name", bytes, length, "field", ... } in a static
array; bytes are a string literal with every byte outside printable
ASCII, and '?' '"' '\\', written as a three-digit octal escape (so no
trigraph or hex-escape run-on can occur)."""


def c_string(data, width=72):
    out, line = [], ""
    for b in data:
        ch = chr(b)
        if 0x20 <= b < 0x7F and ch not in '?"\\':
            piece = ch
        else:
            piece = "\\%03o" % b
        if len(line) + len(piece) > width:
            out.append('"' + line + '"')
            line = ""
        line += piece
    out.append('"' + line + '"')
    return "\n      ".join(out)


def write_header(path, title, struct, fields, entries):
    guard = "HOST_" + path.rsplit("/", 1)[-1].replace(".", "_").upper()
    lines = [
        "/*",
        " * " + title + ".",
        " * Generated: do not edit; run the script again instead.",
        " */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <stddef.h>",
        "",
        f"struct {struct} {{",
        "  const char *name;",
        "  const char *bytes;",
        "  size_t len;",
    ]
    lines += [f"  const char *{f};" for f in fields]
    lines += ["};", "", f"static const struct {struct} {struct}s[] = {{"]
    for name, data, values in entries:
        vals = ", ".join('"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')
                         for v in values)
        lines.append(f'  {{"{name}",')
        lines.append("      " + c_string(data) + ",")
        lines.append(f"      {len(data)}, {vals}}},")
    lines += ["};", "", f"#endif", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
