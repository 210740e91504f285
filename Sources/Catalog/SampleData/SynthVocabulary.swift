/// The fixed word lists and colour schemes of the SampleData generator.
///
/// Every brand name here is invented (made-up, pronounceable words with a
/// made-up Chinese transliteration); none is meant to be a real trademark.
enum SynthVocabulary {
    /// Hand-made brand names: (Latin, Chinese). Brands beyond this list get
    /// generated names (see `SynthCatalogue.generatedBrandName`).
    static let brandNames: [(String, String)] = [
        ("Veloura", "维洛拉"), ("Lumessa", "露美莎"), ("Orvane", "欧梵"), ("Siravel", "希拉薇"),
        ("Calindre", "卡琳德"), ("Nuvelle", "纽薇尔"), ("Aubrel", "奥布瑞"), ("Mirelune", "米瑞露"),
        ("Estova", "艾斯朵"), ("Kaloni", "卡洛妮"), ("Zephira", "泽菲拉"), ("Tiamor", "缇雅摩"),
        ("Belvina", "贝尔薇娜"), ("Corisse", "珂瑞丝"), ("Dalmee", "黛尔美"), ("Fenora", "芬诺拉"),
        ("Quilane", "奎兰"), ("Rosmari", "柔丝玛"), ("Solenne", "索兰妮"), ("Vantis", "梵缇丝"),
        ("Yuvella", "雨薇拉"), ("Noxelle", "诺赛尔"), ("Peralis", "佩拉丝"), ("Ilvane", "伊尔梵"),
        ("Brisaly", "布莉萨"), ("Celvie", "赛薇"), ("Doralys", "朵拉丽"), ("Evanthe", "伊梵缇"),
        ("Galime", "嘉莉美"), ("Helvora", "赫沃拉"), ("Ismera", "伊思美拉"), ("Jolisse", "乔莉丝"),
        ("Kivessa", "琦薇莎"), ("Lisanne", "丽珊"), ("Maravie", "玛拉薇"), ("Nerova", "妮柔"),
        ("Ondelle", "昂黛尔"), ("Pravelle", "普拉薇"), ("Ravenne", "瑞文"), ("Sylvane", "希尔梵"),
        ("Talore", "塔洛"), ("Ulvessa", "优薇莎"), ("Virelle", "薇瑞尔"), ("Wenlia", "文莉雅"),
        ("Xandre", "杉德"), ("Yselle", "伊赛尔"), ("Zorabel", "佐拉贝"), ("Arvelle", "雅薇尔"),
    ]

    /// Syllables for generated brand names: (Latin, Chinese).
    static let syllables: [(String, String)] = [
        ("la", "拉"), ("lo", "洛"), ("li", "丽"), ("ve", "薇"), ("mi", "米"), ("na", "娜"), ("ri", "瑞"),
        ("so", "索"), ("ta", "塔"), ("ne", "妮"), ("ka", "卡"), ("sa", "莎"), ("vi", "维"), ("do", "朵"),
        ("ze", "泽"), ("fe", "芬"), ("be", "贝"), ("co", "珂"), ("mo", "摩"), ("ra", "拉"), ("el", "尔"),
        ("ar", "雅"), ("ny", "妮"), ("qui", "绮"), ("ju", "茱"), ("pe", "佩"), ("ti", "缇"), ("ro", "柔"),
    ]

    /// Endings for generated brand names (Latin only).
    static let endings = ["", "", "ne", "sse", "lle", "a", "e", "is"]

    /// A product series (a line within a brand): Chinese name, the word printed on the pack, a tint.
    struct Series: Sendable, Hashable {
        let chinese: String
        let code: String
        let tint: UInt32
    }

    static let skincareSeries: [Series] = [
        Series(chinese: "水光", code: "HYDRA", tint: 0x8EC9E8),
        Series(chinese: "玻尿酸", code: "HYALURON", tint: 0x7FD3D8),
        Series(chinese: "烟酰胺", code: "NIACIN", tint: 0xE4E7EC),
        Series(chinese: "雪润", code: "SNOW", tint: 0xF4F6FA),
        Series(chinese: "黄金", code: "GOLD", tint: 0xD6B25E),
        Series(chinese: "臻颜", code: "PRESTIGE", tint: 0x5A3A7A),
        Series(chinese: "焕白", code: "BRIGHT", tint: 0xF3EEE4),
        Series(chinese: "修护", code: "REPAIR", tint: 0x6FAF8A),
        Series(chinese: "紧致", code: "FIRMING", tint: 0xC98A9A),
        Series(chinese: "青春", code: "YOUTH", tint: 0xF2A9B8),
        Series(chinese: "玫瑰", code: "ROSE", tint: 0xE58FA4),
        Series(chinese: "山茶花", code: "CAMELLIA", tint: 0xC8323F),
        Series(chinese: "胶原", code: "COLLAGEN", tint: 0xF5B99A),
        Series(chinese: "积雪草", code: "CICA", tint: 0x7DB36B),
        Series(chinese: "红石榴", code: "GARNET", tint: 0x9E1F35),
        Series(chinese: "绿茶", code: "GREEN TEA", tint: 0x8DBB5A),
        Series(chinese: "奢宠", code: "LUXE", tint: 0x2A2420),
        Series(chinese: "净透", code: "CLEAR", tint: 0xA9D8F0),
        Series(chinese: "柔肤", code: "SOFT", tint: 0xF6E3C8),
        Series(chinese: "极光", code: "AURORA", tint: 0x9C8BE0),
        Series(chinese: "人参", code: "GINSENG", tint: 0xC08A3E),
        Series(chinese: "精粹", code: "PURE", tint: 0xECE9E2),
        Series(chinese: "蓝铜", code: "BLUE PEPTIDE", tint: 0x3C6FB5),
        Series(chinese: "白松露", code: "TRUFFLE", tint: 0xE8DDC8),
    ]

    static let makeupSeries: [Series] = [
        Series(chinese: "丝绒", code: "VELVET", tint: 0x7A1F2E),
        Series(chinese: "哑光", code: "MATTE", tint: 0xB45A45),
        Series(chinese: "水润", code: "GLOW", tint: 0xF08A78),
        Series(chinese: "持妆", code: "LASTING", tint: 0x2B2B2E),
        Series(chinese: "柔雾", code: "BLUR", tint: 0xD39AA2),
        Series(chinese: "星钻", code: "STAR", tint: 0xC9CCD6),
        Series(chinese: "缎光", code: "SATIN", tint: 0xE2C7A0),
        Series(chinese: "浓密", code: "VOLUME", tint: 0x1B1B22),
    ]

    /// The package shapes the renderer knows.
    enum Pack: String, Sendable, CaseIterable {
        case bottle, pump, dropper, jar, tube, lipstick, mascara, compact, box
    }

    /// A kind of product (a line such as cream or serum).
    struct ProductType: Sendable, Hashable {
        /// The Chinese product word used in labels and titles ("面霜").
        let chinese: String
        /// The short form used when titles list a set ("霜" in "水+乳+霜").
        let short: String
        /// The English word printed on the pack.
        let onPack: String
        /// An English word some titles use.
        let english: String
        let packs: [Pack]
        /// Height relative to a tall toner bottle (for suits, where products stand side by side).
        let height: Float
        let makeup: Bool
        let volumes: [String]
    }

    static let skincareTypes: [ProductType] = [
        ProductType(chinese: "面霜", short: "霜", onPack: "CREAM", english: "cream", packs: [.jar],
                    height: 0.38, makeup: false, volumes: ["50g", "50ml", "30g", "60ml"]),
        ProductType(chinese: "眼霜", short: "眼霜", onPack: "EYE CREAM", english: "eye cream", packs: [.jar, .tube],
                    height: 0.3, makeup: false, volumes: ["15g", "20ml", "15ml"]),
        ProductType(chinese: "精华", short: "精华", onPack: "SERUM", english: "serum", packs: [.dropper, .pump],
                    height: 0.62, makeup: false, volumes: ["30ml", "50ml", "75ml"]),
        ProductType(chinese: "精华水", short: "精华水", onPack: "ESSENCE", english: "essence", packs: [.bottle],
                    height: 0.82, makeup: false, volumes: ["150ml", "120ml", "230ml"]),
        ProductType(chinese: "爽肤水", short: "水", onPack: "TONER", english: "toner", packs: [.bottle],
                    height: 0.92, makeup: false, volumes: ["150ml", "200ml", "120ml"]),
        ProductType(chinese: "乳液", short: "乳", onPack: "LOTION", english: "lotion", packs: [.pump, .bottle],
                    height: 0.86, makeup: false, volumes: ["120ml", "100ml", "150ml"]),
        ProductType(chinese: "洁面乳", short: "洁面", onPack: "CLEANSER", english: "cleanser", packs: [.tube, .pump],
                    height: 0.74, makeup: false, volumes: ["100g", "120g", "150ml"]),
        ProductType(chinese: "防晒霜", short: "防晒", onPack: "SPF50+", english: "sunscreen", packs: [.tube, .bottle],
                    height: 0.6, makeup: false, volumes: ["50ml", "60ml", "40ml"]),
        ProductType(chinese: "面膜", short: "面膜", onPack: "MASK", english: "mask", packs: [.box, .jar],
                    height: 0.7, makeup: false, volumes: ["10片", "5片", "100g"]),
        ProductType(chinese: "精华油", short: "精华油", onPack: "FACE OIL", english: "face oil", packs: [.dropper],
                    height: 0.56, makeup: false, volumes: ["30ml", "15ml"]),
        ProductType(chinese: "卸妆水", short: "卸妆水", onPack: "MICELLAR", english: "cleansing water", packs: [.bottle, .pump],
                    height: 1.0, makeup: false, volumes: ["400ml", "300ml", "200ml"]),
        ProductType(chinese: "身体乳", short: "身体乳", onPack: "BODY", english: "body lotion", packs: [.pump],
                    height: 1.05, makeup: false, volumes: ["250ml", "400ml"]),
        ProductType(chinese: "护手霜", short: "护手霜", onPack: "HAND", english: "hand cream", packs: [.tube],
                    height: 0.46, makeup: false, volumes: ["30g", "50ml"]),
        ProductType(chinese: "精华露", short: "精华露", onPack: "AMPOULE", english: "ampoule", packs: [.dropper, .bottle],
                    height: 0.6, makeup: false, volumes: ["30ml", "50ml"]),
        ProductType(chinese: "面部喷雾", short: "喷雾", onPack: "MIST", english: "mist", packs: [.pump, .bottle],
                    height: 0.8, makeup: false, volumes: ["100ml", "150ml"]),
    ]

    static let makeupTypes: [ProductType] = [
        ProductType(chinese: "口红", short: "口红", onPack: "ROUGE", english: "lipstick", packs: [.lipstick],
                    height: 0.42, makeup: true, volumes: ["3.5g", "3g"]),
        ProductType(chinese: "唇膏", short: "唇膏", onPack: "LIP BALM", english: "lip balm", packs: [.lipstick],
                    height: 0.38, makeup: true, volumes: ["3g", "4g"]),
        ProductType(chinese: "睫毛膏", short: "睫毛膏", onPack: "MASCARA", english: "mascara", packs: [.mascara],
                    height: 0.56, makeup: true, volumes: ["8ml", "10g"]),
        ProductType(chinese: "气垫", short: "气垫", onPack: "CUSHION", english: "cushion", packs: [.compact],
                    height: 0.24, makeup: true, volumes: ["15g", "12g"]),
        ProductType(chinese: "粉饼", short: "粉饼", onPack: "POWDER", english: "powder", packs: [.compact],
                    height: 0.2, makeup: true, volumes: ["9g", "10g"]),
        ProductType(chinese: "粉底液", short: "粉底", onPack: "FOUNDATION", english: "foundation", packs: [.bottle, .pump],
                    height: 0.55, makeup: true, volumes: ["30ml", "35ml"]),
        ProductType(chinese: "眼线笔", short: "眼线笔", onPack: "LINER", english: "eyeliner", packs: [.mascara],
                    height: 0.5, makeup: true, volumes: ["0.5g", "1g"]),
        ProductType(chinese: "定妆喷雾", short: "定妆喷雾", onPack: "FIX MIST", english: "setting spray", packs: [.pump],
                    height: 0.72, makeup: true, volumes: ["100ml"]),
    ]

    /// A brand's colour scheme. Several brands may share one.
    struct Palette: Sendable {
        let body: UInt32
        let cap: UInt32
        let label: UInt32
        let ink: UInt32
        let accent: UInt32
        /// The body is tinted glass (the contents show through).
        let glass: Bool
        /// The cap is polished metal.
        let metalCap: Bool
        /// The ink is hot-stamped metal (gold or silver lettering).
        let metalInk: Bool
        /// The body is polished metal (chrome or gold packaging).
        let metalBody: Bool

        init(_ body: UInt32, _ cap: UInt32, _ label: UInt32, _ ink: UInt32, _ accent: UInt32,
             glass: Bool = false, metalCap: Bool = false, metalInk: Bool = false, metalBody: Bool = false) {
            self.body = body; self.cap = cap; self.label = label; self.ink = ink; self.accent = accent
            self.glass = glass; self.metalCap = metalCap; self.metalInk = metalInk; self.metalBody = metalBody
        }
    }

    static let palettes: [Palette] = [
        Palette(0xF4EFE6, 0xC9A45C, 0xFFFFFF, 0x8C6A2F, 0xC9A45C, metalCap: true),          // ivory and gold
        Palette(0x1E1C1A, 0xC9A45C, 0x2B2825, 0xD8B56A, 0xC9A45C, metalCap: true, metalInk: true), // black and gold
        Palette(0xF2C9C4, 0xD4A28E, 0xFBEDEA, 0x9C4F4A, 0xD4A28E, metalCap: true),          // blush and rose gold
        Palette(0xBFE6EC, 0xFFFFFF, 0xFFFFFF, 0x1F6F8B, 0x3FA7C2),                          // aqua and white
        Palette(0x1F2F5A, 0xC0C4CC, 0x2A3D6E, 0xE6E9F0, 0xC0C4CC, metalCap: true),          // navy and silver
        Palette(0xCDEBD9, 0x2E7D5B, 0xF7FBF8, 0x2E7D5B, 0x2E7D5B),                          // mint
        Palette(0xD8C8EA, 0xC8C8D8, 0xF5F0FA, 0x5B4A8A, 0x9D8CC2, metalCap: true),          // lilac and silver
        Palette(0xB3202A, 0xD9B36C, 0xB3202A, 0xF6E7C8, 0xD9B36C, metalCap: true, metalInk: true), // red lacquer
        Palette(0xF49A80, 0xFFFFFF, 0xFFF4EF, 0xC2452D, 0xC2452D),                          // coral
        Palette(0xF3F6F9, 0x2B5FA8, 0x2B5FA8, 0xFFFFFF, 0x2B5FA8),                          // frosted white and blue
        Palette(0xA3622A, 0x222222, 0xF2E8D5, 0x3A2A1A, 0x222222, glass: true),             // amber glass
        Palette(0x3E7B55, 0xD9C38A, 0xEFE9D6, 0x2F4F3A, 0xD9C38A, glass: true, metalCap: true), // green glass
        Palette(0xF7D6DC, 0xE2E2E6, 0xFFFFFF, 0xB0667A, 0xD9A0AE, glass: true, metalCap: true), // clear glass, pink
        Palette(0x2A2A2E, 0xF2A7BE, 0xF2A7BE, 0x2A2A2E, 0xF2A7BE),                          // matte black and pink
        Palette(0x9CC7EB, 0xF4F7FA, 0x2E5C8A, 0xFFFFFF, 0x2E5C8A),                          // sky blue
        Palette(0xF6D36B, 0xFFFFFF, 0xFFFFFF, 0x8A5A00, 0xE0A21A),                          // sunny yellow
        Palette(0x4B2A6B, 0xB8A06A, 0x4B2A6B, 0xE8D9A8, 0xB8A06A, metalCap: true, metalInk: true), // purple prestige
        Palette(0xF7E6EA, 0xE7C3CC, 0xFFFFFF, 0xB0667A, 0xE7C3CC),                          // pearl pink
        Palette(0xC46A4E, 0x3A2A24, 0xEAD8C8, 0x3A2A24, 0xEAD8C8),                          // terracotta
        Palette(0xD5D8DE, 0x9AA0AA, 0xFFFFFF, 0x30343C, 0x30343C, metalCap: true, metalBody: true), // chrome
        Palette(0x1F7A80, 0xE9E4DA, 0xE9E4DA, 0x1F7A80, 0xE9E4DA),                          // teal
        Palette(0xF9D9B8, 0xC98B5A, 0xFFF8F0, 0x8A4E2A, 0xC98B5A),                          // peach cream
        Palette(0xFFFFFF, 0x111111, 0xFFFFFF, 0x111111, 0x111111),                          // white and black
        Palette(0xE9D3B0, 0xB08D57, 0xF7EEDD, 0x6B4E2A, 0xB08D57, metalCap: true, metalBody: true), // champagne gold
    ]

    /// Lipstick and lip balm bullet shades.
    static let lipShades: [UInt32] = [0xB0172B, 0xC8323F, 0x8E1B2F, 0xD9534F, 0xE07A6A, 0xC45A6A, 0x9B3B4A, 0xE8868F, 0xA8433A]

    // MARK: Caption words

    /// Claims and marketing words.
    static let benefits = [
        "补水保湿", "滋润", "提亮肤色", "抗皱紧致", "修护屏障", "控油", "温和", "清爽不油腻", "敏感肌可用",
        "淡化细纹", "美白", "水润", "长效保湿", "舒缓", "淡斑", "收缩毛孔", "深层清洁",
        "抗初老", "焕亮", "弹润", "锁水", "细腻", "轻薄", "高保湿",
    ]
    static let makeupBenefits = [
        "显白", "持久不脱色", "不沾杯", "哑光", "滋润", "遮瑕", "控油持妆", "自然裸妆", "浓密卷翘", "防水", "轻薄透气",
    ]
    static let hype = [
        "新品", "明星单品", "网红", "爆款", "热销", "限量版", "官方旗舰店", "专柜", "旗舰", "同款", "经典", "升级版",
        "第二代", "学生党", "大牌",
    ]
    /// Promotional noise, Chinese and English, as sellers write it.
    static let noise = [
        "包邮", "正品", "正品保证", "礼盒", "礼盒装", "官方正品", "现货", "秒发", "送礼", "女友礼物", "七夕",
        "情人节礼物", "双11", "618", "限时特惠", "赠品", "小样", "旅行装", "free shipping", "authentic",
        "gift box", "new", "hot sale", "【官方正品】", "【包邮】", "「限时」", "[正品]", "顺丰包邮", "假一赔十",
    ]
    static let categories = ["护肤品", "化妆品", "护肤品套装", "女", "彩妆", "套盒", "面部护理", "官方"]
    static let suitWords = ["套装", "礼盒", "套盒", "礼盒装", "组合", "护肤套装", "旅行套装"]
    static let countWords = ["两件套", "三件套", "四件套", "五件套", "六件套"]
    static let giftWords = ["送", "赠", "买一送一", "加送", "再送"]
}
