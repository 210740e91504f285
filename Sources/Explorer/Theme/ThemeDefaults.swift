import Imaging

extension Theme {
    /// A complete theme derived from two colours: every role gets a style
    /// made from the foreground and background (faded text keeps a 4.5:1
    /// contrast), and every role its monochrome attributes. Theme files start
    /// from this for the roles they leave out.
    public static func derived(name: String, foreground: RGB, background: RGB) -> Theme {
        var roles: [Role: RoleStyle] = [:]
        var mono: [Role: RoleStyle] = [:]
        for role in Role.allCases {
            roles[role] = defaultStyle(role, foreground: foreground, background: background)
            mono[role] = defaultMono(role)
        }
        return Theme(name: name, foreground: foreground, background: background, roles: roles, mono: mono)
    }

    /// The style a role takes when a theme file does not define it.
    static func defaultStyle(_ role: Role, foreground f: RGB, background b: RGB) -> RoleStyle {
        let bar = Contrast.mix(b, f, 0.14)          // header and footer bars
        let panel = Contrast.mix(b, f, 0.06)        // the help overlay
        let dimText = Contrast.faded(f, on: b, by: 0.45, keeping: 4.5)
        switch role {
        case .text, .label, .single, .multi, .image:
            return RoleStyle(fg: f)
        case .dim, .placeholder:
            return RoleStyle(fg: dimText)
        case .header:
            return RoleStyle(fg: f, bg: bar, bold: true)
        case .headerDim:
            return RoleStyle(fg: Contrast.faded(f, on: bar, by: 0.4, keeping: 4.5), bg: bar)
        case .footer:
            return RoleStyle(fg: f, bg: bar)
        case .footerKey:
            return RoleStyle(fg: f, bg: bar, bold: true)
        case .border:
            return RoleStyle(fg: Contrast.faded(f, on: b, by: 0.6, keeping: 2.2))
        case .title, .accent, .warning, .error:
            return RoleStyle(fg: f, bold: true)
        case .selection:
            let bg = Contrast.mix(b, f, 0.28)
            return RoleStyle(fg: Contrast.ratio(f, bg) >= Contrast.ratio(b, bg) ? f : b, bg: bg, bold: true)
        case .match:
            return RoleStyle(fg: f, bold: true, underline: true)
        case .overlay:
            return RoleStyle(fg: f, bg: panel)
        case .overlayTitle:
            return RoleStyle(fg: f, bg: panel, bold: true)
        }
    }

    /// The attributes a role takes without colour when a theme file does not say.
    static func defaultMono(_ role: Role) -> RoleStyle {
        switch role {
        case .text, .label, .single, .multi, .image, .border, .overlay:
            return RoleStyle()
        case .dim, .placeholder:
            return RoleStyle(dim: true)
        case .header, .headerDim, .footer, .selection:
            return RoleStyle(reverse: true)
        case .footerKey:
            return RoleStyle(bold: true, reverse: true)
        case .title, .accent, .warning, .overlayTitle:
            return RoleStyle(bold: true)
        case .error:
            return RoleStyle(bold: true, underline: true)
        case .match:
            return RoleStyle(underline: true)
        }
    }
}
