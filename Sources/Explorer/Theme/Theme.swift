import Imaging

/// How one role looks: colours (hex in the theme file) and attributes.
public struct RoleStyle: Sendable, Equatable {
    public var fg: RGB?
    public var bg: RGB?
    public var bold: Bool
    public var underline: Bool
    public var reverse: Bool
    public var dim: Bool
    public init(fg: RGB? = nil, bg: RGB? = nil, bold: Bool = false, underline: Bool = false, reverse: Bool = false, dim: Bool = false) {
        self.fg = fg; self.bg = bg; self.bold = bold; self.underline = underline; self.reverse = reverse; self.dim = dim
    }
}

/// A colour theme: semantic roles mapped to colours (loaded from `Themes/*.toml`),
/// plus the attributes each role takes where there is no colour at all.
public struct Theme: Sendable, Equatable {
    public var name: String
    /// The screen's default colours (roles without a colour fall back to these).
    public var foreground: RGB
    public var background: RGB
    public var roles: [Role: RoleStyle]
    /// Attributes used in monochrome (no colour) mode.
    public var mono: [Role: RoleStyle]

    public init(name: String, foreground: RGB, background: RGB, roles: [Role: RoleStyle], mono: [Role: RoleStyle]) {
        self.name = name; self.foreground = foreground; self.background = background
        self.roles = roles; self.mono = mono
    }

    public func style(for role: Role) -> RoleStyle { roles[role] ?? RoleStyle() }
}
