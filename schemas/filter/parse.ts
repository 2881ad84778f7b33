/**
 * The SCIM filter parser (RFC 7644 §3.4.2.2): filter text -> FilterNode.
 *
 * Precedence is `not` > `and` > `or`, both binary operators associate to the left, parentheses
 * group. The tolerances each IdP needs are listed where they are applied (idp-traffic.md §0, §5).
 */
import { FilterError, type CompareOp, type FilterNode, type FilterValue } from "./ast.js";

/** Longest filter accepted; real IdP filters are a few dozen characters. */
export const MAX_FILTER_LENGTH = 4096;
/** Deepest nesting of parentheses / `not` accepted, so a hostile filter cannot exhaust the stack. */
export const MAX_FILTER_DEPTH = 64;

const COMPARE_OPS: ReadonlySet<string> = new Set(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]);

/**
 * attrPath = [URI ":"] ATTRNAME *1subAttr (RFC 7644 §3.4.2.2, RFC 7643 §2.1). `$` is allowed as a
 * first character because `members.$ref` / `groups.$ref` are real sub-attribute names.
 */
const ATTR_PATH = /^(?:urn:[A-Za-z0-9.\-_:]+:)?[A-Za-z$][A-Za-z0-9_$-]*(?:\.[A-Za-z$][A-Za-z0-9_$-]*)?$/i;

/** Whether `s` is an attrPath (RFC 7644 §3.10), as `attributes` and `excludedAttributes` name them. */
export const isAttributePath = (s: string): boolean => ATTR_PATH.test(s);
/** A sub-attribute after a valuePath's closing bracket: `].value`. */
const SUB_ATTR = /^\.[A-Za-z$][A-Za-z0-9_$-]*$/;
/** RFC 8259 §6 number grammar; anything else unquoted is a bare string (see bareValue). */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** `pos`/`end`: offsets of the token's first character and just past its last. */
type Token =
  | { t: "(" | ")" | "[" | "]"; pos: number; end: number }
  | { t: "string"; value: string; pos: number; end: number }
  /** Any other run of characters up to whitespace, a bracket, a parenthesis or a quote. */
  | { t: "word"; text: string; pos: number; end: number; /** No whitespace before it. */ glued: boolean };

const describe = (tok: Token | undefined): string =>
  tok === undefined
    ? "end of filter"
    : tok.t === "string"
      ? `string ${JSON.stringify(tok.value)}`
      : tok.t === "word"
        ? `'${tok.text}'`
        : `'${tok.t}'`;

/** Positions in messages are 1-based character offsets, which is what a person counts. */
const at = (pos: number): string => `at position ${pos + 1}`;

function tokenize(input: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let prevEnd = -1;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "(" || c === ")" || c === "[" || c === "]") {
      out.push({ t: c, pos: i, end: i + 1 });
      prevEnd = ++i;
      continue;
    }
    if (c === '"') {
      // A JSON string (RFC 8259 §7): scan to the closing quote, skipping escaped characters, then let
      // JSON.parse decode the escapes so \" \\ \/ \b \f \n \r \t \uXXXX behave exactly as in JSON.
      let j = i + 1;
      while (j < input.length && input[j] !== '"') j += input[j] === "\\" ? 2 : 1;
      if (j >= input.length) throw new FilterError(`Unterminated string ${at(i)}`);
      let value: unknown;
      try {
        value = JSON.parse(input.slice(i, j + 1));
      } catch {
        throw new FilterError(`Invalid string ${at(i)}: bad escape or control character`);
      }
      out.push({ t: "string", value: value as string, pos: i, end: j + 1 });
      prevEnd = i = j + 1;
      continue;
    }
    let j = i;
    while (j < input.length && !/[\s()[\]"]/.test(input[j]!)) j++;
    out.push({ t: "word", text: input.slice(i, j), pos: i, end: j, glued: prevEnd === i });
    prevEnd = i = j;
  }
  return out;
}

class Parser {
  private i = 0;
  private depth = 0;

  constructor(
    private readonly toks: Token[],
    private readonly maxDepth: number,
  ) {}

  parse(): FilterNode {
    if (this.toks.length === 0) throw new FilterError("Empty filter");
    const node = this.parseOr(false);
    const rest = this.peek();
    if (rest) throw new FilterError(`Unexpected ${describe(rest)} ${at(rest.pos)}`);
    return node;
  }

  private peek(offset = 0): Token | undefined {
    return this.toks[this.i + offset];
  }

  private next(): Token | undefined {
    return this.toks[this.i++];
  }

  private endPos(): number {
    return this.toks[this.toks.length - 1]?.end ?? 0;
  }

  private posOf(tok: Token | undefined): number {
    return tok ? tok.pos : this.endPos();
  }

  /** Keywords are case-insensitive: PingOne's default template is `username Eq "%s"` (idp-traffic.md §2). */
  private isKeyword(tok: Token | undefined, kw: string): boolean {
    return tok?.t === "word" && tok.text.toLowerCase() === kw;
  }

  private enter(pos: number): void {
    if (++this.depth > this.maxDepth) {
      throw new FilterError(`Filter nested deeper than ${this.maxDepth} levels ${at(pos)} (scim.limits.filterDepth)`);
    }
  }

  private parseOr(inValuePath: boolean): FilterNode {
    let left = this.parseAnd(inValuePath);
    while (this.isKeyword(this.peek(), "or")) {
      this.next();
      left = { kind: "or", left, right: this.parseAnd(inValuePath) };
    }
    return left;
  }

  private parseAnd(inValuePath: boolean): FilterNode {
    let left = this.parseUnary(inValuePath);
    while (this.isKeyword(this.peek(), "and")) {
      this.next();
      left = { kind: "and", left, right: this.parseUnary(inValuePath) };
    }
    return left;
  }

  private parseUnary(inValuePath: boolean): FilterNode {
    const tok = this.peek();
    // `not` is a keyword unless it is itself the attribute of `not pr` / `not eq x` (an attribute named
    // "not" is legal ATTRNAME). RFC 7644 writes `not "(" FILTER ")"`; `not attrExp` is also accepted.
    const after = this.peek(1);
    const notIsAttr = after?.t === "word" && (COMPARE_OPS.has(after.text.toLowerCase()) || after.text.toLowerCase() === "pr");
    if (this.isKeyword(tok, "not") && !notIsAttr) {
      this.next();
      this.enter(tok!.pos);
      if (this.peek() === undefined) throw new FilterError(`Expected a filter after 'not' ${at(this.endPos())}`);
      const expr = this.parseUnary(inValuePath);
      this.depth--;
      return { kind: "not", expr };
    }
    return this.parsePrimary(inValuePath);
  }

  private parsePrimary(inValuePath: boolean): FilterNode {
    const tok = this.next();
    if (tok?.t === "(") {
      this.enter(tok.pos);
      const inner = this.parseOr(inValuePath);
      this.depth--;
      const close = this.next();
      if (close?.t !== ")") throw new FilterError(`Expected ')' ${at(this.posOf(close))}, found ${describe(close)}`);
      return inner;
    }
    if (tok?.t !== "word") throw new FilterError(`Expected an attribute path ${at(this.posOf(tok))}, found ${describe(tok)}`);
    const path = tok.text;
    if (!ATTR_PATH.test(path)) throw new FilterError(`Invalid attribute path '${path}' ${at(tok.pos)}`);

    const open = this.peek();
    if (open?.t === "[") return this.parseValuePath(path, tok.pos, inValuePath);
    return this.parseAttrExp(path);
  }

  /** attrExp = attrPath SP "pr" / attrPath SP compareOp SP compValue */
  private parseAttrExp(path: string): FilterNode {
    const opTok = this.next();
    if (opTok?.t !== "word") {
      throw new FilterError(`Expected an operator after '${path}' ${at(this.posOf(opTok))}, found ${describe(opTok)}`);
    }
    const op = opTok.text.toLowerCase();
    if (op === "pr") return { kind: "present", path };
    if (!COMPARE_OPS.has(op)) throw new FilterError(`Unknown operator '${opTok.text}' ${at(opTok.pos)}`);
    return { kind: "compare", path, op: op as CompareOp, value: this.parseValue(opTok.text) };
  }

  /** compValue = false / null / true / number / string (RFC 7644 §3.4.2.2). */
  private parseValue(opText: string): FilterValue {
    const tok = this.next();
    if (tok?.t === "string") return tok.value;
    if (tok?.t !== "word") {
      throw new FilterError(`Expected a value after '${opText}' ${at(this.posOf(tok))}, found ${describe(tok)}`);
    }
    return bareValue(tok.text);
  }

  /** valuePath = attrPath "[" valFilter "]", plus Entra's `attr[filter].sub op value` form. */
  private parseValuePath(path: string, pos: number, inValuePath: boolean): FilterNode {
    if (inValuePath) throw new FilterError(`Nested value filter '${path}[' ${at(pos)} is not allowed (RFC 7644 §3.4.2.2 valFilter)`);
    if (path.includes(".") && !/^urn:/i.test(path)) {
      throw new FilterError(`A value filter applies to an attribute, not a sub-attribute: '${path}' ${at(pos)}`);
    }
    this.next(); // "["
    this.enter(pos);
    const filter = this.parseOr(true);
    this.depth--;
    const close = this.next();
    if (close?.t !== "]") throw new FilterError(`Expected ']' ${at(this.posOf(close))}, found ${describe(close)}`);

    // Entra's uniqueness filter `emails[type eq "work"].value eq "x"` (idp-traffic.md §3): the
    // sub-attribute test joins the bracket filter, so one and the same element must satisfy both.
    const sub = this.peek();
    if (sub?.t === "word" && sub.glued && sub.text.startsWith(".")) {
      if (!SUB_ATTR.test(sub.text)) throw new FilterError(`Invalid sub-attribute '${sub.text}' ${at(sub.pos)}`);
      this.next();
      const test = this.parseAttrExp(sub.text.slice(1));
      return { kind: "valuePath", path, filter: { kind: "and", left: filter, right: test } };
    }
    return { kind: "valuePath", path, filter };
  }
}

/**
 * An unquoted value. RFC 7644 allows only true/false/null/number here, but Entra's own tutorial shows
 * `externalId eq jyoung` (idp-traffic.md §3, §5), so any other bare token is taken as a string.
 * Literals stay lower-case as in JSON; a bare `True` is the string "True" (boolean attributes still
 * accept it, see match.ts).
 */
function bareValue(text: string): FilterValue {
  if (text === "true") return true;
  if (text === "false") return false;
  if (text === "null") return null;
  if (JSON_NUMBER.test(text)) return Number(text);
  return text;
}

/**
 * Parses a SCIM filter (RFC 7644 §3.4.2.2) into a FilterNode.
 * @throws FilterError naming the position and token at fault (the route answers 400 invalidFilter).
 */
export function parseFilter(input: string, limits: { maxLength?: number; maxDepth?: number } = {}): FilterNode {
  const maxLength = limits.maxLength ?? MAX_FILTER_LENGTH;
  if (input.length > maxLength) {
    throw new FilterError(`Filter longer than ${maxLength} characters (${input.length}; scim.limits.filterLength)`);
  }
  return new Parser(tokenize(input), limits.maxDepth ?? MAX_FILTER_DEPTH).parse();
}
