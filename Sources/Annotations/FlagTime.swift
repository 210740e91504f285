import Foundation

/// The flag store's clock format: whole milliseconds since 1970-01-01 UTC, written as
/// ISO 8601 in UTC with exactly three fractional digits (`2026-11-21T08:11:58.123Z`).
///
/// The store keeps milliseconds, exports write milliseconds, and imports read them back
/// to the same `Date`, so an export and its import agree to the bit. The conversions are
/// done by hand (proleptic Gregorian calendar, no locale, no formatter state), which
/// makes them thread-safe and independent of the machine's time zone.
public enum FlagTime {
    /// The date rounded down to a whole millisecond, as the store keeps it.
    public static func truncated(_ value: Date) -> Date { date(milliseconds: milliseconds(value)) }

    /// Whole milliseconds since 1970-01-01T00:00:00Z (rounded down).
    public static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// The `Date` of a millisecond count. Every path from milliseconds to a `Date` goes
    /// through here, so equal counts always give equal dates.
    public static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC.
    public static func format(_ date: Date) -> String { format(milliseconds: milliseconds(date)) }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC for a millisecond count.
    public static func format(milliseconds ms: Int64) -> String {
        let (secondsTotal, milli) = floorDivide(ms, 1000)
        let (days, secondOfDay) = floorDivide(secondsTotal, 86_400)
        let (year, month, day) = civil(fromDays: days)
        let hour = secondOfDay / 3600, minute = secondOfDay / 60 % 60, second = secondOfDay % 60
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(hour, 2) + ":" + pad(minute, 2)
            + ":" + pad(second, 2) + "." + pad(milli, 3) + "Z"
    }

    /// Reads an ISO 8601 date-time: `YYYY-MM-DDTHH:MM:SS`, optional fraction (digits past
    /// the millisecond are dropped), then `Z` or an offset `±HH:MM` / `±HHMM` / `±HH`.
    /// A space may stand for the `T`. Returns nil for anything else, including
    /// out-of-range fields (month 13, 25 o'clock, February 30).
    public static func parse(_ text: String) -> Date? {
        parseMilliseconds(text).map { date(milliseconds: $0) }
    }

    /// ``parse(_:)`` as a millisecond count.
    public static func parseMilliseconds(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ count: Int) -> Int64? {
            guard i + count <= b.count else { return nil }
            var v: Int64 = 0
            for k in i..<(i + count) {
                guard b[k] >= 48 && b[k] <= 57 else { return nil }
                v = v * 10 + Int64(b[k] - 48)
            }
            i += count
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D), let day = digits(2) else { return nil }
        guard i < b.count, b[i] == 0x54 || b[i] == 0x74 || b[i] == 0x20 else { return nil }   // T, t or space
        i += 1
        guard let hour = digits(2), expect(0x3A), let minute = digits(2), expect(0x3A), let second = digits(2) else { return nil }
        var milli: Int64 = 0
        if i < b.count, b[i] == 0x2E || b[i] == 0x2C {                                        // . or ,
            i += 1
            var place: Int64 = 100, any = false
            while i < b.count, b[i] >= 48 && b[i] <= 57 {
                milli += Int64(b[i] - 48) * place
                place /= 10
                i += 1
                any = true
            }
            guard any else { return nil }
        }
        var offsetMinutes: Int64 = 0
        guard i < b.count else { return nil }                                                  // a zone is required
        switch b[i] {
        case 0x5A, 0x7A:                                                                       // Z, z
            i += 1
        case 0x2B, 0x2D:                                                                       // + or -
            let sign: Int64 = b[i] == 0x2D ? -1 : 1
            i += 1
            guard let oh = digits(2) else { return nil }
            var om: Int64 = 0
            if i < b.count {
                _ = expect(0x3A)
                guard let m = digits(2) else { return nil }
                om = m
            }
            guard oh <= 23, om <= 59 else { return nil }
            offsetMinutes = sign * (oh * 60 + om)
        default:
            return nil
        }
        guard i == b.count else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 60 else { return nil }
        let days = self.days(fromCivil: year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60
        return seconds * 1000 + milli
    }

    // MARK: Calendar arithmetic (proleptic Gregorian, eras of 400 years)

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a / b, r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    private static func isLeap(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a civil date. Counts from 0000-03-01 so that the leap
    /// day is the last day of each computational year.
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let (era, yearOfEra) = floorDivide(y, 400)
        let shiftedMonth = (month + 9) % 12                       // March = 0 ... February = 11
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468                  // 719468 days from 0000-03-01 to 1970-01-01
    }

    /// The civil date of a day count since 1970-01-01 (inverse of `days(fromCivil:)`).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let (era, dayOfEra) = floorDivide(days + 719_468, 146_097)
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (era * 400 + yearOfEra + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
