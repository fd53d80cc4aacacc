#include "pipeline/condition.h"

#include <cstdlib>

namespace slipway::pipeline {

struct ConditionNode {
  enum class Op { kLiteral, kRef, kCall, kNot, kAnd, kOr, kEq, kNe };
  Op op = Op::kLiteral;
  std::string text;  // literal value, or function name
  Reference ref;
  std::shared_ptr<const ConditionNode> lhs, rhs;
};

namespace {

using NodePtr = std::shared_ptr<const ConditionNode>;

struct Token {
  enum class Type { kIdent, kString, kNumber, kOp, kLParen, kRParen, kEnd };
  Type type;
  std::string text;
  size_t pos;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Expected<NodePtr> Run(std::vector<Reference>& refs, bool& after_failure) {
    refs_ = &refs;
    after_failure_ = &after_failure;
    if (auto t = Tokenize(); !t) return tl::unexpected(t.error());
    auto node = ParseOr();
    if (!node) return node;
    if (Peek().type != Token::Type::kEnd) return Error("unexpected '" + Peek().text + "'");
    return node;
  }
  size_t error_pos = 0;

 private:
  tl::unexpected<slipway::Error> Error(const std::string& msg) {
    error_pos = Peek().pos;
    return Fail(msg + " in condition '" + std::string(text_) + "'");
  }

  Expected<bool> Tokenize() {
    size_t i = 0;
    while (i < text_.size()) {
      char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (c == '\'' || c == '"') {
        size_t end = text_.find(c, i + 1);
        if (end == std::string_view::npos) {
          error_pos = i;
          return Fail("unterminated string in condition '" + std::string(text_) + "'");
        }
        tokens_.push_back({Token::Type::kString, std::string(text_.substr(i + 1, end - i - 1)), i});
        i = end + 1;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t s = i;
        while (i < text_.size() && (std::isdigit(static_cast<unsigned char>(text_[i])) || text_[i] == '.')) ++i;
        tokens_.push_back({Token::Type::kNumber, std::string(text_.substr(s, i - s)), s});
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t s = i;
        while (i < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[i])) || text_[i] == '_' ||
                                    text_[i] == '-' || text_[i] == '.'))
          ++i;
        tokens_.push_back({Token::Type::kIdent, std::string(text_.substr(s, i - s)), s});
      } else if (c == '(' || c == ')') {
        tokens_.push_back({c == '(' ? Token::Type::kLParen : Token::Type::kRParen, std::string(1, c), i});
        ++i;
      } else {
        std::string two(text_.substr(i, 2));
        if (two == "==" || two == "!=" || two == "&&" || two == "||") {
          tokens_.push_back({Token::Type::kOp, two, i});
          i += 2;
        } else if (c == '!') {
          tokens_.push_back({Token::Type::kOp, "!", i});
          ++i;
        } else {
          error_pos = i;
          return Fail("unexpected '" + std::string(1, c) + "' in condition '" + std::string(text_) + "'");
        }
      }
    }
    tokens_.push_back({Token::Type::kEnd, "end of condition", text_.size()});
    return true;
  }

  const Token& Peek() const { return tokens_[pos_]; }
  bool AcceptOp(const char* op) {
    if (Peek().type == Token::Type::kOp && Peek().text == op) {
      ++pos_;
      return true;
    }
    return false;
  }
  static NodePtr Binary(ConditionNode::Op op, NodePtr l, NodePtr r) {
    auto n = std::make_shared<ConditionNode>();
    n->op = op;
    n->lhs = std::move(l);
    n->rhs = std::move(r);
    return n;
  }

  Expected<NodePtr> ParseOr() {
    auto lhs = ParseAnd();
    while (lhs && AcceptOp("||")) {
      auto rhs = ParseAnd();
      if (!rhs) return rhs;
      lhs = Binary(ConditionNode::Op::kOr, *lhs, *rhs);
    }
    return lhs;
  }
  Expected<NodePtr> ParseAnd() {
    auto lhs = ParseCmp();
    while (lhs && AcceptOp("&&")) {
      auto rhs = ParseCmp();
      if (!rhs) return rhs;
      lhs = Binary(ConditionNode::Op::kAnd, *lhs, *rhs);
    }
    return lhs;
  }
  Expected<NodePtr> ParseCmp() {
    auto lhs = ParseUnary();
    if (!lhs) return lhs;
    if (AcceptOp("==")) {
      auto rhs = ParseUnary();
      if (!rhs) return rhs;
      return Binary(ConditionNode::Op::kEq, *lhs, *rhs);
    }
    if (AcceptOp("!=")) {
      auto rhs = ParseUnary();
      if (!rhs) return rhs;
      return Binary(ConditionNode::Op::kNe, *lhs, *rhs);
    }
    return lhs;
  }
  Expected<NodePtr> ParseUnary() {
    if (AcceptOp("!")) {
      auto operand = ParseUnary();
      if (!operand) return operand;
      auto n = std::make_shared<ConditionNode>();
      n->op = ConditionNode::Op::kNot;
      n->lhs = *operand;
      return NodePtr(n);
    }
    return ParsePrimary();
  }
  Expected<NodePtr> ParsePrimary() {
    const Token t = Peek();
    auto n = std::make_shared<ConditionNode>();
    switch (t.type) {
      case Token::Type::kLParen: {
        ++pos_;
        auto inner = ParseOr();
        if (!inner) return inner;
        if (Peek().type != Token::Type::kRParen) return Error("expected ')' but found '" + Peek().text + "'");
        ++pos_;
        return inner;
      }
      case Token::Type::kString:
      case Token::Type::kNumber:
        ++pos_;
        n->op = ConditionNode::Op::kLiteral;
        n->text = t.text;
        return NodePtr(n);
      case Token::Type::kIdent: {
        ++pos_;
        if (Peek().type == Token::Type::kLParen) {
          static const char* kFns[] = {"always", "success", "failure", "cancelled"};
          bool known = false;
          for (const char* f : kFns) known |= t.text == f;
          if (!known) {
            --pos_;
            return Error("unknown function '" + t.text + "()'; expected always(), success(), failure() or cancelled()");
          }
          ++pos_;
          if (Peek().type != Token::Type::kRParen) return Error("expected ')' after '" + t.text + "('");
          ++pos_;
          if (t.text != "success") *after_failure_ = true;
          n->op = ConditionNode::Op::kCall;
          n->text = t.text;
          return NodePtr(n);
        }
        if (t.text == "true" || t.text == "false" || t.text == "null") {
          n->op = ConditionNode::Op::kLiteral;
          n->text = t.text == "null" ? "" : t.text;
          return NodePtr(n);
        }
        auto ref = ParseReference(t.text);
        if (!ref) {
          --pos_;
          return Error(ref.error().message);
        }
        if (ref->kind == Reference::Kind::kSecret) {
          --pos_;
          error_pos = t.pos;
          return Fail("secrets cannot be used in conditions: '" + std::string(text_) + "'");
        }
        ref->offset = t.pos;
        refs_->push_back(*ref);
        n->op = ConditionNode::Op::kRef;
        n->ref = *ref;
        return NodePtr(n);
      }
      default:
        return Error("expected a value but found '" + t.text + "'");
    }
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::vector<Reference>* refs_ = nullptr;
  bool* after_failure_ = nullptr;
};

bool Truthy(const std::string& v) { return !(v.empty() || v == "false" || v == "0"); }

bool AsNumber(const std::string& s, double& out) {
  // Plain decimal only: strtod would also take "nan", "inf" and hex.
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  bool digits = false, dot = false;
  for (; i < s.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(s[i]))) {
      digits = true;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  if (!digits) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end && *end == '\0';
}

Expected<std::string> Eval(const ConditionNode& n, const Scope& scope, const RunStatus& status) {
  using Op = ConditionNode::Op;
  auto boolean = [](bool b) { return std::string(b ? "true" : "false"); };
  switch (n.op) {
    case Op::kLiteral:
      return n.text;
    case Op::kRef:
      return scope.Lookup(n.ref);
    case Op::kCall:
      if (n.text == "always") return boolean(true);
      if (n.text == "success") return boolean(!status.any_failed && !status.cancelled);
      if (n.text == "failure") return boolean(status.any_failed);
      return boolean(status.cancelled);
    case Op::kNot: {
      auto v = Eval(*n.lhs, scope, status);
      if (!v) return v;
      return boolean(!Truthy(*v));
    }
    case Op::kAnd:
    case Op::kOr: {
      auto l = Eval(*n.lhs, scope, status);
      if (!l) return l;
      if (n.op == Op::kAnd && !Truthy(*l)) return boolean(false);
      if (n.op == Op::kOr && Truthy(*l)) return boolean(true);
      auto r = Eval(*n.rhs, scope, status);
      if (!r) return r;
      return boolean(Truthy(*r));
    }
    case Op::kEq:
    case Op::kNe: {
      auto l = Eval(*n.lhs, scope, status);
      if (!l) return l;
      auto r = Eval(*n.rhs, scope, status);
      if (!r) return r;
      double a, b;
      bool equal = (AsNumber(*l, a) && AsNumber(*r, b)) ? a == b : *l == *r;
      return boolean(n.op == Op::kEq ? equal : !equal);
    }
  }
  return Fail("internal error: unknown condition node");
}

}  // namespace

Expected<Condition> Condition::Parse(std::string_view text, int* column) {
  std::string_view body = text;
  size_t shift = 0;
  // Accept "{{ expr }}" and "${{ expr }}" as GitHub Actions users write them.
  size_t first = body.find_first_not_of(" \t");
  if (first != std::string_view::npos) {
    std::string_view rest = body.substr(first);
    size_t prefix = rest.rfind("${{", 0) == 0 ? 3 : (rest.rfind("{{", 0) == 0 ? 2 : 0);
    size_t last = rest.find_last_not_of(" \t");
    if (prefix && last != std::string_view::npos && last >= 1 && rest.substr(last - 1, 2) == "}}") {
      shift = first + prefix;
      body = rest.substr(prefix, last - 1 - prefix);
    }
  }
  Condition c;
  if (body.find_first_not_of(" \t") == std::string_view::npos) return c;  // empty: success()
  Parser parser(body);
  auto root = parser.Run(c.refs_, c.runs_after_failure_);
  if (!root) {
    if (column) *column = static_cast<int>(shift + parser.error_pos) + 1;
    return tl::unexpected(root.error());
  }
  for (auto& r : c.refs_) r.offset += shift;
  c.root_ = *root;
  return c;
}

Expected<bool> Condition::Evaluate(const Scope& scope, const RunStatus& status) const {
  if (!root_) return !status.any_failed && !status.cancelled;  // empty condition: success()
  auto v = Eval(*root_, scope, status);
  if (!v) return tl::unexpected(v.error());
  return Truthy(*v);
}

}  // namespace slipway::pipeline
