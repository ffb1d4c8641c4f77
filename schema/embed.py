#!/usr/bin/env python3
"""Embed a file in C as a NUL-terminated char array: embed.py NAME IN OUT."""
import sys


def main():
    name, src, dst = sys.argv[1:4]
    with open(src, 'rb') as f:
        data = f.read()
    rows = []
    for i in range(0, len(data), 16):
        rows.append('\t' + ' '.join('0x%02x,' % b for b in data[i:i + 16]))
    with open(dst + '.tmp', 'w') as f:
        f.write('/* Generated from %s by schema/embed.py.  Do not edit. */\n'
                % src.split('/')[-1])
        f.write('#include <stddef.h>\n')
        f.write('const char %s[] = {\n%s\n\t0x00\n};\n' % (name, '\n'.join(rows)))
        f.write('const size_t %s_len = %d;\n' % (name, len(data)))
    import os
    os.replace(dst + '.tmp', dst)


if __name__ == '__main__':
    main()
