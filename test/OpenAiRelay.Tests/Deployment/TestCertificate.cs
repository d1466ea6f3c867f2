using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// A self-signed certificate for one host name, written as the PEM pair certbot leaves in
/// <c>/etc/letsencrypt/live/DOMAIN/</c> (<c>fullchain.pem</c>, <c>privkey.pem</c>). Clients trust exactly this
/// certificate (pinned by its SHA-256 thumbprint) and nothing else, so no system trust store is touched.
/// </summary>
public sealed class TestCertificate
{
    private TestCertificate(string directory, string hostName, string thumbprint)
    {
        Directory = directory;
        HostName = hostName;
        Sha256Thumbprint = thumbprint;
    }

    /// <summary>The folder holding <c>fullchain.pem</c> and <c>privkey.pem</c>, with a trailing slash.</summary>
    public string Directory { get; }

    public string HostName { get; }

    public string Sha256Thumbprint { get; }

    public static TestCertificate Create(string directory, string hostName)
    {
        System.IO.Directory.CreateDirectory(directory);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + hostName, key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(hostName);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        File.WriteAllText(Path.Combine(directory, "fullchain.pem"), certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(Path.Combine(directory, "privkey.pem"), key.ExportPkcs8PrivateKeyPem() + "\n");
        return new TestCertificate(Path.TrimEndingDirectorySeparator(directory) + "/", hostName, certificate.GetCertHashString(HashAlgorithmName.SHA256));
    }

    /// <summary>
    /// Accepts the server's certificate only if it is this one and was presented for <see cref="HostName"/>
    /// (the chain is untrusted by design: it is self-signed; the pin replaces the chain).
    /// </summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null
        && (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) == 0
        && string.Equals(certificate.GetCertHashString(HashAlgorithmName.SHA256), Sha256Thumbprint, StringComparison.OrdinalIgnoreCase);
}
