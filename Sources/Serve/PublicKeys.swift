import Foundation
import Support

/// An SSH public key as authorized_keys and `$SSH_USER_AUTH` write it: a type and the base64 blob.
public struct PublicKey: Sendable, Equatable {
    public var type: String
    public var blob: [UInt8]

    /// Key types OpenSSH 9 accepts for user authentication.
    public static let types: Set<String> = [
        "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss",
        "ssh-ed25519-cert-v01@openssh.com", "ssh-rsa-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    ]

    public init(type: String, blob: [UInt8]) { self.type = type; self.blob = blob }

    /// OpenSSH's fingerprint: `SHA256:` and the unpadded base64 of the blob's SHA-256.
    public var fingerprint: String {
        let digest = SHA256.digest(blob)
        var text = Data(digest).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return "SHA256:" + text
    }

    /// The key in an authorized_keys line, its `$SSH_USER_AUTH` line (`publickey TYPE BASE64`), or a
    /// `.pub` file: the first known key type followed by a base64 blob whose own type field agrees.
    /// Options before the type (`from="..."`, `restrict`) and a comment after it are allowed.
    public static func parse(line: Substring) -> PublicKey? {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        for (i, word) in words.enumerated() where i + 1 < words.count && types.contains(String(word)) {
            guard let data = Data(base64Encoded: String(words[i + 1])), data.count >= 4, data.count <= 16_384 else { return nil }
            let blob = [UInt8](data)
            // The blob starts with its type as an SSH string (a 4-byte length, then the name).
            let length = Int(blob[0]) << 24 | Int(blob[1]) << 16 | Int(blob[2]) << 8 | Int(blob[3])
            guard length == word.utf8.count, blob.count >= 4 + length,
                  blob[4 ..< 4 + length].elementsEqual(word.utf8) else { return nil }
            return PublicKey(type: String(word), blob: blob)
        }
        return nil
    }
}

/// An authorized_keys file read for a serve: the keys it admits and the lines sshd would ignore.
public struct AuthorizedKeys: Sendable {
    public var keys: [PublicKey]
    /// 1-based numbers of lines that are neither blank, a comment nor a public key.
    public var ignoredLines: [Int]

    /// Reads and checks the file (at most 1 MiB).
    public static func read(_ path: String) throws(ServeError) -> (AuthorizedKeys, [UInt8]) {
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(path, kind: "authorized keys file", limit: 1 << 20) ?? [] }
        catch { throw .invalid("--authorized-keys: \(error)") }
        let parsed = parse(String(decoding: bytes, as: UTF8.self))
        guard !parsed.keys.isEmpty else {
            throw .invalid("--authorized-keys \(path): no public key in it (a line like `ssh-ed25519 AAAA... name`, as in ~/.ssh/id_ed25519.pub); give the guests' public keys, or --open to let anyone in")
        }
        return (parsed, bytes)
    }

    public static func parse(_ text: String) -> AuthorizedKeys {
        var keys: [PublicKey] = []
        var ignored: [Int] = []
        // "\r\n" is one Character in Swift: both line ends are separators.
        for (i, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if let key = PublicKey.parse(line: trimmed) { keys.append(key) } else { ignored.append(i + 1) }
        }
        return AuthorizedKeys(keys: keys, ignoredLines: ignored)
    }
}
