"""Parser and checker for colo-kvm's QAPI-style schema.

Reads the schema text, pairs every expression with the "##" doc block in
front of it, and checks names, types and documentation.  Any problem is a
SchemaError naming file:line; the build fails on it.
"""

import re


class SchemaError(Exception):
    def __init__(self, fname, line, msg):
        super().__init__('%s:%d: %s' % (fname, line, msg))


BUILTIN_TYPES = ('str', 'int', 'bool', 'number', 'any')
NAME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9_-]*$')


class Doc:
    """One "##" block: the symbol, its body text and per-member text."""

    def __init__(self, line):
        self.line = line
        self.symbol = None
        self.section = None
        self.body = []
        self.members = {}
        self.returns = None

    def text(self):
        return ' '.join(s for s in self.body if s).strip()


class Member:
    def __init__(self, name, typ, optional, doc):
        self.name = name
        self.type = typ
        self.optional = optional
        self.doc = doc


class Entity:
    """An enum, struct, command or event after checking."""

    def __init__(self, meta, name, expr, doc, line):
        self.meta = meta
        self.name = name
        self.expr = expr
        self.doc = doc
        self.line = line
        self.members = []
        self.values = []
        self.returns = None
        self.section = None
        self.server = 'colod'


SERVERS = ('colod', 'helper', 'phase', 'netproxy', 'blkrep')


class _Lexer:
    TOKENS = '{}[]:,'

    def __init__(self, fname, text):
        self.fname = fname
        self.text = text
        self.pos = 0
        self.line = 1

    def error(self, msg):
        raise SchemaError(self.fname, self.line, msg)

    def skip_space(self):
        """Skip blanks and plain comments; return a doc block if one starts."""
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == '\n':
                self.line += 1
                self.pos += 1
            elif c in ' \t\r':
                self.pos += 1
            elif c == '#':
                return True
            else:
                return False
        return False

    def read_comment_line(self):
        end = self.text.find('\n', self.pos)
        if end < 0:
            end = len(self.text)
        s = self.text[self.pos:end]
        self.pos = end
        return s

    def next(self):
        while True:
            if self.skip_space():
                self.read_comment_line()
                continue
            break
        if self.pos >= len(self.text):
            return None
        c = self.text[self.pos]
        if c in self.TOKENS:
            self.pos += 1
            return c
        if c == "'":
            end = self.pos + 1
            out = []
            while end < len(self.text) and self.text[end] != "'":
                if self.text[end] in '\\\n':
                    self.error('backslash or newline in string')
                out.append(self.text[end])
                end += 1
            if end >= len(self.text):
                self.error('unterminated string')
            self.pos = end + 1
            return ('str', ''.join(out))
        for word, val in (('true', True), ('false', False)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return ('bool', val)
        self.error('unexpected character %r' % c)
        return None


def _parse_value(lex, tok):
    if tok == '{':
        obj = {}
        tok = lex.next()
        if tok == '}':
            return obj
        while True:
            if not isinstance(tok, tuple) or tok[0] != 'str':
                lex.error('expected a string key')
            key = tok[1]
            if key in obj:
                lex.error('duplicate key %r' % key)
            if lex.next() != ':':
                lex.error("expected ':'")
            obj[key] = _parse_value(lex, lex.next())
            tok = lex.next()
            if tok == '}':
                return obj
            if tok != ',':
                lex.error("expected ',' or '}'")
            tok = lex.next()
    if tok == '[':
        arr = []
        tok = lex.next()
        if tok == ']':
            return arr
        while True:
            arr.append(_parse_value(lex, tok))
            tok = lex.next()
            if tok == ']':
                return arr
            if tok != ',':
                lex.error("expected ',' or ']'")
            tok = lex.next()
    if isinstance(tok, tuple):
        return tok[1]
    lex.error('expected a value')
    return None


def _parse_doc(lex):
    """Parse a doc block starting at '##'; returns a Doc."""
    doc = Doc(lex.line)
    first = lex.read_comment_line()
    if first.strip() != '##':
        lex.error("doc block must start with '##'")
    current = None
    while True:
        if lex.pos >= len(lex.text):
            lex.error('unterminated doc block')
        lex.pos += 1          # newline
        lex.line += 1
        while lex.pos < len(lex.text) and lex.text[lex.pos] in ' \t':
            lex.pos += 1
        if lex.pos >= len(lex.text) or lex.text[lex.pos] != '#':
            lex.error("doc block line must start with '#'")
        raw = lex.read_comment_line()
        if raw.strip() == '##':
            return doc
        if not raw.startswith('#'):
            lex.error('bad doc line')
        body = raw[1:]
        if body.startswith(' '):
            body = body[1:]
        if doc.symbol is None and doc.section is None:
            m = re.match(r'^@([A-Za-z0-9_-]+):\s*$', body)
            if m:
                doc.symbol = m.group(1)
                continue
            m = re.match(r'^=+\s+(.*)$', body)
            if m:
                doc.section = m.group(1).strip()
                continue
            lex.error("doc block must open with '@name:' or '= Section'")
        m = re.match(r'^@([A-Za-z0-9_*-]+):\s*(.*)$', body)
        if m:
            name = m.group(1)
            if name in doc.members:
                lex.error('member @%s documented twice' % name)
            doc.members[name] = [m.group(2)]
            current = doc.members[name]
            continue
        m = re.match(r'^Returns:\s*(.*)$', body)
        if m:
            doc.returns = [m.group(1)]
            current = doc.returns
            continue
        if current is not None and body.startswith('    '):
            current.append(body.strip())
            continue
        if body.strip() == '':
            current = None
            doc.body.append('')
            continue
        if current is not None:
            lex.error('doc text after member descriptions must be indented')
        doc.body.append(body.strip())


def parse(fname):
    with open(fname, encoding='utf-8') as f:
        text = f.read()
    lex = _Lexer(fname, text)
    items = []      # (doc or None, expr, line)
    pending = None
    section = None
    while True:
        if lex.skip_space():
            if lex.text.startswith('##', lex.pos) and \
                    lex.text[lex.pos:lex.pos + 3].strip() == '##':
                doc = _parse_doc(lex)
                if doc.section is not None:
                    section = doc.section
                    continue
                if pending is not None:
                    raise SchemaError(fname, pending.line,
                                      'doc block for @%s is not followed '
                                      'by its definition' % pending.symbol)
                pending = doc
                continue
            lex.read_comment_line()
            continue
        line = lex.line
        tok = lex.next()
        if tok is None:
            break
        if tok != '{':
            lex.error('expected a top-level {...} expression')
        expr = _parse_value(lex, tok)
        items.append((pending, expr, line, section))
        pending = None
    if pending is not None:
        raise SchemaError(fname, pending.line, 'dangling doc block')
    return check(fname, items)


def _member_doc(fname, line, doc, name, what):
    text = doc.members.get(name)
    if text is None or not ' '.join(text).strip():
        raise SchemaError(fname, line,
                          '%s %s lacks a doc comment (@%s:)' %
                          (what, name, name))
    return ' '.join(t for t in text if t)


def check(fname, items):
    schema = {'entities': [], 'by_name': {}}
    metas = ('enum', 'struct', 'command', 'event')
    for doc, expr, line, section in items:
        meta = [k for k in metas if k in expr]
        if len(meta) != 1:
            raise SchemaError(fname, line,
                              'expression must have exactly one of %s' %
                              ', '.join(metas))
        meta = meta[0]
        name = expr[meta]
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise SchemaError(fname, line, 'bad %s name %r' % (meta, name))
        allowed = {'enum': ('enum', 'data'),
                   'struct': ('struct', 'data'),
                   'command': ('command', 'data', 'returns', 'server'),
                   'event': ('event', 'data')}[meta]
        for k in expr:
            if k not in allowed:
                raise SchemaError(fname, line,
                                  "unknown key '%s' in %s %s" % (k, meta, name))
        if doc is None:
            raise SchemaError(fname, line, '%s %s lacks a doc comment' %
                              (meta, name))
        if doc.symbol != name:
            raise SchemaError(fname, doc.line,
                              "doc block names @%s but the definition is %s" %
                              (doc.symbol, name))
        if not doc.text():
            raise SchemaError(fname, doc.line,
                              '%s %s has no description' % (meta, name))
        if name in schema['by_name']:
            raise SchemaError(fname, line, "'%s' is defined twice" % name)
        ent = Entity(meta, name, expr, doc, line)
        ent.section = section
        documented = set()
        if meta == 'enum':
            data = expr.get('data')
            if not isinstance(data, list) or not data:
                raise SchemaError(fname, line, 'enum %s needs a data list' %
                                  name)
            for v in data:
                if not isinstance(v, str) or not NAME_RE.match(v):
                    raise SchemaError(fname, line, 'bad enum value %r' % v)
                if v in ent.values:
                    raise SchemaError(fname, line, 'duplicate value %r' % v)
                ent.values.append((v, _member_doc(fname, line, doc, v,
                                                  'value')))
                documented.add(v)
        else:
            data = expr.get('data', {})
            if not isinstance(data, dict):
                raise SchemaError(fname, line, "'data' must be an object")
            if meta == 'struct' and not data:
                raise SchemaError(fname, line, 'struct %s is empty' % name)
            for key, typ in data.items():
                optional = key.startswith('*')
                mname = key[1:] if optional else key
                if not NAME_RE.match(mname):
                    raise SchemaError(fname, line, 'bad member name %r' % key)
                ent.members.append(Member(
                    mname, typ, optional,
                    _member_doc(fname, line, doc, mname, 'member')))
                documented.add(mname)
            if meta == 'command':
                ent.server = expr.get('server', 'colod')
                if ent.server not in SERVERS:
                    raise SchemaError(fname, line, "command %s: server must "
                                      "be one of %s" % (name, ', '.join(SERVERS)))
            if meta == 'command' and 'returns' in expr:
                ent.returns = expr['returns']
                if not doc.returns or not ' '.join(doc.returns).strip():
                    raise SchemaError(fname, doc.line,
                                      "command %s lacks 'Returns:' doc" % name)
        extra = set(doc.members) - documented
        if extra:
            raise SchemaError(fname, doc.line,
                              'doc of %s describes unknown member(s) %s' %
                              (name, ', '.join(sorted(extra))))
        schema['entities'].append(ent)
        schema['by_name'][name] = ent
    _check_types(fname, schema)
    return schema


def _check_type_ref(fname, schema, ent, typ, allow_array):
    if isinstance(typ, list):
        if not allow_array or len(typ) != 1:
            raise SchemaError(fname, ent.line, 'bad array type in %s' %
                              ent.name)
        return _check_type_ref(fname, schema, ent, typ[0], False)
    if not isinstance(typ, str):
        raise SchemaError(fname, ent.line, 'bad type in %s' % ent.name)
    if typ in BUILTIN_TYPES:
        return
    ref = schema['by_name'].get(typ)
    if ref is None or ref.meta not in ('enum', 'struct'):
        raise SchemaError(fname, ent.line, "%s uses unknown type '%s'" %
                          (ent.name, typ))


def _check_types(fname, schema):
    for ent in schema['entities']:
        for m in ent.members:
            _check_type_ref(fname, schema, ent, m.type, True)
        if ent.returns is not None:
            r = ent.returns
            inner = r[0] if isinstance(r, list) and len(r) == 1 else r
            if not isinstance(inner, str) or \
                    schema['by_name'].get(inner) is None or \
                    schema['by_name'][inner].meta != 'struct':
                raise SchemaError(fname, ent.line,
                                  'command %s must return a struct or a '
                                  'list of structs' % ent.name)
    # A struct may only use structs defined before it: no recursion.
    seen = set()
    for ent in schema['entities']:
        if ent.meta == 'struct':
            for m in ent.members:
                t = m.type[0] if isinstance(m.type, list) else m.type
                ref = schema['by_name'].get(t)
                if ref is not None and ref.meta == 'struct' and t not in seen:
                    raise SchemaError(fname, ent.line,
                                      'struct %s uses %s before it is defined'
                                      % (ent.name, t))
        seen.add(ent.name)
