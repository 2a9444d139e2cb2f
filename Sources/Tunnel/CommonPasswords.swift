// The short list of common passwords that PasswordFloor refuses even though they are long
// enough (issue 15): the first guesses of any offline attack on a key bundle in www/k/.
// Kept small on purpose: it catches the obvious, the length floor does the rest.
package enum CommonPasswords {
    /// Each entry as compared: lower case, letters and digits only (PasswordFloor.comparable),
    /// so "Password-1234" and "PASSWORD 1234" match "password1234". Entries shorter than
    /// PasswordFloor.minimumLength would be refused for their length anyway, so none are here.
    package static let list: Set<String> = [
        // digit runs and keyboard walks
        "123456789012", "1234567890123", "12345678901234", "123456789000", "012345678901",
        "098765432109", "098765432112", "123123123123", "123456123456", "121212121212",
        "987654321098", "147258369147", "159753159753", "qwertyuiopas", "qwertyuiop12",
        "qwertyuiop123", "qwertyuiop1234", "qwertyuiopasdf", "qwerty123456", "123456qwerty",
        "qwertyqwerty", "qwertzuiopas", "azertyuiopqs", "asdfghjkl123", "asdfghjklzxc",
        "zxcvbnm12345", "1qaz2wsx3edc", "1q2w3e4r5t6y", "qazwsxedcrfv", "abcdefghijkl",
        "abc123456789", "abcd1234abcd", "a1b2c3d4e5f6",
        // "password" and friends
        "password1234", "password12345", "password123456", "passwordpassword", "password2024",
        "password2025", "password2026", "password2027", "passw0rd1234", "p4ssw0rd1234",
        "mypassword123", "mypassword1234", "changeme1234", "changemenow1", "letmein12345",
        "letmeinletmein", "welcome12345", "welcome123456", "iloveyou1234", "iloveyou123456", "trustno11234", "secret123456",
        "default12345", "administrator", "admin1234567", "adminadmin12", "adminpassword",
        "correcthorsebatterystaple", "football1234", "baseball1234", "sunshine1234",
        "princess1234", "dragon123456", "monkey123456", "superman1234", "starwars1234",
    ]
}
